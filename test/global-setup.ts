/**
 * Runs once before any test file: builds the fixture images, creates the test users and the
 * user-readable app copy, so parallel workers find them ready instead of racing for them.
 */
import { buildFixtures } from './helpers/fixtures.js';
import { isCI } from './helpers/require.js';
import { appDir, isRoot, NOSUB_USER, testUser } from './helpers/user.js';

export async function setup(): Promise<void> {
  if (isRoot) {
    await testUser();
    await testUser(NOSUB_USER);
  }
  try {
    await buildFixtures();
  } catch (err) {
    // Tests that need the fixtures fail or skip on their own through requireTool.
    if (isCI()) throw err;
    console.warn(`fixtures not built: ${err instanceof Error ? err.message : String(err)}`);
  }
  await appDir();
}
