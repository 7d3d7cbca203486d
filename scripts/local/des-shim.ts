import crypto from 'node:crypto';

/**
 * s3rver encrypts ListObjectsV2 continuation tokens with single DES (`des`, i.e. DES-CBC), which
 * OpenSSL 3 only offers in its legacy provider: without `--openssl-legacy-provider` a truncated
 * listing answers HTTP 500. Single DES with key K is exactly 3DES-EDE with key K‖K‖K (the E-D-E
 * steps cancel), and `des-ede3-cbc` is in OpenSSL's default provider. So when `des` is refused,
 * this maps it to `des-ede3-cbc` with the key repeated three times: byte-identical tokens, no flag
 * needed. Only the algorithm name `des` is touched, and only when the runtime refuses it.
 */

let installed = false;

export function desSupported(): boolean {
  try {
    crypto.createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
    return true;
  } catch {
    return false;
  }
}

/** Installs the shim when needed; returns whether it is active. Idempotent. */
export function installDesShim(): boolean {
  if (installed) return true;
  if (desSupported()) return false;
  const tripled = (key: crypto.CipherKey): Buffer => {
    const k = Buffer.isBuffer(key) ? key : Buffer.from(key as Uint8Array);
    return Buffer.concat([k, k, k]);
  };
  const isDes = (algorithm: string) =>
    algorithm.toLowerCase() === 'des' || algorithm.toLowerCase() === 'des-cbc';
  const createCipheriv = crypto.createCipheriv;
  const createDecipheriv = crypto.createDecipheriv;
  // biome-ignore lint/suspicious/noExplicitAny: wraps overloaded Node signatures transparently
  (crypto as any).createCipheriv = (algorithm: string, key: crypto.CipherKey, iv: any, options?: any) =>
    isDes(algorithm)
      ? createCipheriv('des-ede3-cbc', tripled(key), iv, options)
      : createCipheriv(algorithm, key, iv, options);
  // biome-ignore lint/suspicious/noExplicitAny: wraps overloaded Node signatures transparently
  (crypto as any).createDecipheriv = (algorithm: string, key: crypto.CipherKey, iv: any, options?: any) =>
    isDes(algorithm)
      ? createDecipheriv('des-ede3-cbc', tripled(key), iv, options)
      : createDecipheriv(algorithm, key, iv, options);
  installed = true;
  return true;
}
