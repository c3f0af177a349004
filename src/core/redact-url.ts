/**
 * A server URL as it may be shown in a message or a log: the password replaced by `***`
 * (`redis://:***@127.0.0.1:6379/5`). Works on text that is not a valid URL too, since the
 * messages that show it are mostly about URLs that are wrong.
 */
export function redactUrl(url: string): string {
  // userinfo is everything between "//" and the last "@" before the host; the password follows its first ":".
  return url.replace(/^([^/]*\/\/)([^/@]*?):([^/]*)@/, (_match, scheme: string, user: string) => `${scheme}${user}:***@`);
}
