/**
 * Ensemble members: the model directories a manifest lists under `members`, resolved relative
 * to the manifest's directory, for ensembles and per-member evaluation.
 */
import { resolve } from 'node:path';
import { errors, WarmServeError } from '../errors.js';
import { loadModelDirectory, type ModelDirectory } from './directory.js';

/**
 * Load every member listed in `dir`'s manifest. A member's `normalization` in the parent
 * manifest overrides the member's own; its `name` replaces the member directory's name.
 */
export async function loadMemberDirectories(dir: ModelDirectory): Promise<ModelDirectory[]> {
  return Promise.all(
    dir.manifest.members.map(async (member) => {
      let loaded: ModelDirectory;
      try {
        loaded = await loadModelDirectory(resolve(dir.path, member.path));
      } catch (err) {
        if (err instanceof WarmServeError) throw errors.model(dir.path, `member '${member.name}': ${err.message}`);
        throw err;
      }
      return { ...loaded, name: member.name, normalization: member.normalization ?? loaded.normalization };
    }),
  );
}
