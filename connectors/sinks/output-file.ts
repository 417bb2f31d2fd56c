// Writes one whole file (such as `_summary.json`) next to the tables, in a local folder or under an S3 prefix.
import { randomBytes } from 'node:crypto';
import { access, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { CoattailError } from '../../runtime/errors.js';
import { makeDirectory } from '../../runtime/make-directory.js';

export interface OutputFileOptions {
  /** S3 endpoint overriding `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`. */
  readonly endpoint?: string;
  /** Content type stored with an S3 object; by default `application/json` for `.json` names, else text. */
  readonly contentType?: string;
}

/**
 * Writes `text` as `name` in `outDir` and returns where it went (a path or an `s3://` URL). A reader sees
 * the previous file or the whole new one: locally through a hidden temporary file renamed into place, on
 * S3 because a PUT is atomic.
 */
export async function writeOutputFile(outDir: string, name: string, text: string, options: OutputFileOptions = {}): Promise<string> {
  if (name === '' || name.includes('/') || name.includes('\\') || name === '.' || name === '..') {
    throw new CoattailError('BAD_ARGUMENT', `An output file name must be a plain file name, got ${JSON.stringify(name)}`);
  }
  const bytes = Buffer.from(text, 'utf8');
  if (/^s3:\/\//i.test(outDir)) {
    // Loaded here so local runs never load the S3 SDK.
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const { parseS3Location, s3ConnectionFor, s3Failure } = await import('./s3-part-storage.js');
    const { bucket, prefix } = parseS3Location(outDir);
    const key = prefix + name;
    const location = `s3://${bucket}/${key}`;
    const connection = s3ConnectionFor(options.endpoint);
    const contentType = options.contentType ?? (name.endsWith('.json') ? 'application/json' : 'text/plain; charset=utf-8');
    try {
      await connection.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentLength: bytes.byteLength, ContentType: contentType }),
      );
    } catch (error) {
      throw s3Failure(connection, bucket, `write ${location}`, error);
    }
    return location;
  }
  const target = path.join(outDir, name);
  const temporary = path.join(outDir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await makeDirectory(outDir);
    await writeFile(temporary, bytes);
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    const reason = error instanceof Error ? error.message : String(error);
    throw new CoattailError('SINK_FAILED', `Could not write ${target}: ${reason}`, { cause: error });
  }
  return target;
}

/** Whether `name` exists in `outDir` (a folder or an S3 prefix); an unreadable location counts as no. */
export async function outputFileExists(outDir: string, name: string, options: OutputFileOptions = {}): Promise<boolean> {
  if (/^s3:\/\//i.test(outDir)) {
    const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
    const { parseS3Location, s3ConnectionFor } = await import('./s3-part-storage.js');
    const { bucket, prefix } = parseS3Location(outDir);
    return s3ConnectionFor(options.endpoint)
      .client.send(new HeadObjectCommand({ Bucket: bucket, Key: prefix + name }))
      .then(() => true, () => false);
  }
  return access(path.join(outDir, name)).then(() => true, () => false);
}
