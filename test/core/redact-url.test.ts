// Pins how a server URL is shown in messages: the password, and only the password, becomes ***, in valid URLs and in text that is not one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { redactUrl } from "../../src/core/redact-url.ts";

describe("redactUrl", () => {
  it("hides a password with or without a user, and leaves the rest as written", () => {
    assert.equal(redactUrl("redis://:s3cret@127.0.0.1:6379/5"), "redis://:***@127.0.0.1:6379/5");
    assert.equal(redactUrl("redis://admin:s3cret@127.0.0.1:6379"), "redis://admin:***@127.0.0.1:6379");
    assert.equal(redactUrl("postgres://app:p%40ss@db.internal:5432/factory?sslmode=require"), "postgres://app:***@db.internal:5432/factory?sslmode=require");
  });

  it("hides everything up to the last @ of the authority, so a password holding @ or : does not leak", () => {
    assert.equal(redactUrl("redis://user:p@ss:w@host:1/2"), "redis://user:***@host:1/2");
  });

  it("changes nothing where there is no password", () => {
    for (const url of ["redis://127.0.0.1:6379/0", "redis://user@host", "not a url", "redis://host/path@x"]) assert.equal(redactUrl(url), url);
  });

  it("hides the password in text that is not a valid URL too: a malformed URL is the one an error shows", () => {
    assert.equal(redactUrl("postgres:/app:s3cret@db:5432/prod"), "postgres:/app:***@db:5432/prod");
    assert.equal(redactUrl("redis:/:s3cret@127.0.0.1:6379"), "redis:/:***@127.0.0.1:6379");
    assert.equal(redactUrl("user:s3cret@127.0.0.1:5432/test"), "user:***@127.0.0.1:5432/test");
    assert.equal(redactUrl("127.0.0.1:6379?password=s3cret"), "127.0.0.1:6379?password=***");
    assert.equal(redactUrl("postgres://app:s3cret@db:notaport/x"), "postgres://app:***@db:notaport/x");
    // Digits then a '/' in the password: the parser takes `app:1234` for host and port.
    assert.equal(redactUrl("postgres://app:1234/xyz@db/test"), "postgres://app:***@db/test");
    assert.equal(redactUrl("postgres://app@db/test?sslpassword=k3y&sslmode=require"), "postgres://app@db/test?sslpassword=***&sslmode=require");
    for (const text of ["postgres:/app:s3cret@db:5432/prod", "user:s3cret@127.0.0.1:5432/test", "127.0.0.1:6379?password=s3cret"]) assert.doesNotMatch(redactUrl(text), /s3cret/);
  });
});
