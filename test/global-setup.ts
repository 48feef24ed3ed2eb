/**
 * Runs once before any test file: builds the fixture images, creates the test users and the
 * user-readable app copy, so parallel workers find them ready instead of racing for them.
 */
import { buildFixtures, DEFAULT_FIXTURES, type FixtureName } from './helpers/fixtures.js';
import { isCI } from './helpers/require.js';
import { appDir, isRoot, NOSUB_USER, testUser } from './helpers/user.js';

/**
 * Every fixture the suite uses. Under CI that includes debian: debootstrapping it takes minutes
 * with an empty cache, and done here no test's timeout is spent on it.
 */
function neededFixtures(): FixtureName[] {
  return isCI() ? [...DEFAULT_FIXTURES, 'debian'] : DEFAULT_FIXTURES;
}

export async function setup(): Promise<void> {
  if (isRoot) {
    await testUser();
    await testUser(NOSUB_USER);
  }
  try {
    await buildFixtures(neededFixtures());
  } catch (err) {
    // Tests that need the fixtures fail or skip on their own through requireTool.
    if (isCI()) throw err;
    console.warn(`fixtures not built: ${err instanceof Error ? err.message : String(err)}`);
  }
  await appDir();
}
