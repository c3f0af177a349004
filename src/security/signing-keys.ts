import { randomBytes } from "node:crypto";
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import type { Store, StoredSigningKey } from "../core/ports/store.ts";

export interface SigningKeysOptions {
  store: Pick<Store, "listSigningKeys" | "putSigningKey">;
  /** How long a key signs before a new one takes over. */
  rotateAfterMs: number;
  /** How long a key stays published after it stopped signing: at least the tokens' lifetime. */
  keepMs: number;
  now?: () => number;
}

/** How long a read of the published keys is reused (a verifier may ask often). */
const PUBLISHED_TTL_MS = 5_000;

/**
 * The Ed25519 keys agents' tokens are signed with (EdDSA, `jose`). They live in the store, so
 * every node of a cluster signs with the same newest key and publishes the same set; a key signs
 * for `rotateAfterMs`, then a new one is made (by whichever node needs it first) and the old one
 * stays published for `keepMs`, so tokens it signed still verify until they expire.
 */
export class SigningKeys {
  readonly #options: SigningKeysOptions;
  #signer: { kid: string; key: CryptoKey; until: number } | undefined;
  #making: Promise<{ kid: string; key: CryptoKey }> | undefined;
  #published: { at: number; keys: Promise<JWK[]> } | undefined;

  constructor(options: SigningKeysOptions) {
    this.#options = options;
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** The key to sign with now: the newest stored one while it is young enough, else a new one. */
  async signer(): Promise<{ kid: string; key: CryptoKey }> {
    const current = this.#signer;
    if (current !== undefined && this.#now() < current.until) return current;
    this.#making ??= this.#pick().finally(() => (this.#making = undefined));
    return this.#making;
  }

  async #pick(): Promise<{ kid: string; key: CryptoKey }> {
    const { store, rotateAfterMs } = this.#options;
    let newest = (await store.listSigningKeys())[0];
    if (newest === undefined || this.#now() - Date.parse(newest.createdAt) >= rotateAfterMs) {
      newest = await this.#make();
      await store.putSigningKey(newest);
      // Another node may have made one at the same moment: the newest stored wins for everyone.
      newest = (await store.listSigningKeys())[0] ?? newest;
      this.#published = undefined;
    }
    const key = (await importJWK(newest.privateJwk as JWK, "EdDSA")) as CryptoKey;
    const signer = { kid: newest.kid, key, until: Date.parse(newest.createdAt) + rotateAfterMs };
    this.#signer = signer;
    return signer;
  }

  async #make(): Promise<StoredSigningKey> {
    const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const kid = `k_${randomBytes(8).toString("hex")}`;
    const [publicJwk, privateJwk] = await Promise.all([exportJWK(publicKey), exportJWK(privateKey)]);
    const createdAt = new Date(this.#now()).toISOString();
    return { kid, createdAt, publicJwk: { ...publicJwk, kid, alg: "EdDSA", use: "sig" }, privateJwk: { ...privateJwk, kid, alg: "EdDSA" } };
  }

  /** The public keys a verifier needs (`/.well-known/jwks.json`): every key that signs or signed a token still valid. */
  async published(): Promise<JWK[]> {
    const now = this.#now();
    if (this.#published === undefined || now - this.#published.at > PUBLISHED_TTL_MS) {
      const { store, rotateAfterMs, keepMs } = this.#options;
      const keys = store.listSigningKeys().then((all) => all.filter((k) => now - Date.parse(k.createdAt) < rotateAfterMs + keepMs).map((k) => k.publicJwk as JWK));
      keys.catch(() => (this.#published = undefined));
      this.#published = { at: now, keys };
    }
    return this.#published.keys;
  }
}
