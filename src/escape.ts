/**
 * Image data (tags, Entrypoint, WorkingDir, labels, names from a layer) is whatever the image's
 * author wrote. Printed raw, a newline forges a line of flux's own output and an escape sequence
 * rewrites the user's terminal (clears it, retitles the window, hides what follows). Every print
 * point that can quote such data passes its text through here.
 *
 * Escaped: C0 controls, DEL, C1 controls (0x9b is a one-byte CSI for some terminals), and the
 * Unicode line separators and bidirectional controls that reorder what a reader sees.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** What JSON.stringify leaves raw of the above (it escapes C0 itself). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `s` with every unsafe character written as `\n`, `\r`, `\t`, `\xHH` or `\u{HHHH}`. */
export function escapeText(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named !== undefined) return named;
    const n = c.codePointAt(0)!;
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
}

/**
 * JSON text safe for a terminal. JSON.stringify escapes C0 controls but leaves DEL, C1 controls
 * and the Unicode ones raw; outside strings JSON text is ASCII, so writing them as `\uHHHH`
 * changes nothing a parser sees.
 */
export function escapeJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
