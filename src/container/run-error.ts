/** A run refused before its command started: flux's own failure, exit code 125 (as podman's). */
import { FluxError } from '../errors.js';

export const bad = (code: string, message: string, hint: string) => new FluxError(code, message, { hint, exitCode: 125 });
