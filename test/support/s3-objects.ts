// Reads objects of the test S3 server back for comparison: a prefix copied into a local folder, key for key.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

/** Copies every object under `prefix/` (markers of pending parts included) into `folder`, keys made paths. */
export async function downloadPrefix(endpoint: string, bucket: string, prefix: string, folder: string): Promise<void> {
  const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1' });
  try {
    await mkdir(folder, { recursive: true });
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        const body = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key! }));
        const file = path.join(folder, object.Key!.slice(prefix.length + 1));
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, await body.Body!.transformToByteArray());
      }
      token = page.NextContinuationToken;
    } while (token);
  } finally {
    client.destroy();
  }
}
