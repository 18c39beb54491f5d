import { afterAll } from 'vitest';
import { removeTempDirs } from './temp-dirs';

// Hooks run in stack order: this afterAll, registered before the test file's, runs after them
// (servers the file stops in its own afterAll no longer hold the directories).
afterAll(removeTempDirs);
