import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/** The part of s3rver's FilesystemStore that deleting an object uses. */
interface FilesystemStore {
  getBucketPath(bucket: string): string;
  getResourcePath(bucket: string, key: string, resource: string): string;
  deleteObject(bucket: string, key: string): Promise<void>;
}

/**
 * s3rver's FilesystemStore deletes an object's three files, then checks whether each folder of the
 * key is left empty by reading it whole (`readdirSync`): a DeleteObjects of a folder's keys costs
 * time in the square of its size. The lake's late-day marks are thousands to a folder (one per raw
 * object of a shard and day: every object of a replayed or synthetic day is late), and removing
 * them after a long `--synthetic` run took hours, the compaction of the first day failing at its
 * 900 s timeout. This removes the same files, then each folder of the key while it is empty,
 * stopping at the first that is not (rmdir refuses it): the same result, in constant time a key.
 */
export function deleteWithoutFolderScans(store: FilesystemStore): void {
  store.deleteObject = async (bucket, key) => {
    await Promise.all(
      ['object', 'object.md5', 'metadata.json'].map((resource) =>
        fs.unlink(store.getResourcePath(bucket, key, resource)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        }),
      ),
    );
    const bucketPath = store.getBucketPath(bucket);
    // The last part is the object's own name, not a folder.
    const parts = key.split('/').slice(0, -1);
    while (parts.length > 0) {
      try {
        await fs.rmdir(join(bucketPath, ...parts));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Not empty (another object, or one written meanwhile): it stays, and so do its parents.
        if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') return;
        throw err;
      }
      parts.pop();
    }
  };
}
