/**
 * A server URL as it may be shown in a message or a log: its password, in the user part or as a
 * `password=` parameter, becomes `***` (`redis://:***@127.0.0.1:6379/5`,
 * `postgres://user:***@host/db`). Text that is not a valid URL is masked too — the messages that
 * show it are mostly about URLs that are wrong — by the same rule on its user part.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // userinfo is everything between "//" and the last "@" before the host; the password follows its first ":".
    return url.replace(/^([^/]*\/\/)([^/@]*?):([^/]*)@/, (_match, scheme: string, user: string) => `${scheme}${user}:***@`);
  }
  // The URL API would percent-encode `*` in the user part; the mask is put in as text.
  const mask = "__af_password__";
  if (parsed.password !== "") parsed.password = mask;
  if (parsed.searchParams.has("password")) parsed.searchParams.set("password", mask);
  return parsed.toString().replaceAll(mask, "***");
}
