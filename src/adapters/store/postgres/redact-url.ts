/**
 * A connection URL fit for a message or a log: its password, in the user part or as a
 * `password=` parameter, becomes `***` (`postgres://user:***@host/db`). A string that is not a
 * URL is hidden up to its last `@`, which is where a password would be.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    const at = url.lastIndexOf("@");
    return at < 0 ? url : `***${url.slice(at)}`;
  }
  // The URL API would percent-encode `*` in the user part; the mask is put in as text.
  const mask = "__af_password__";
  if (parsed.password !== "") parsed.password = mask;
  if (parsed.searchParams.has("password")) parsed.searchParams.set("password", mask);
  return parsed.toString().replaceAll(mask, "***");
}
