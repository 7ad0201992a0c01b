/**
 * GitHub issues App private keys as PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`), but in workerd
 * `@octokit/auth-app` signs with WebCrypto, which imports PKCS#8 only. This rewraps a PKCS#1 key
 * as PKCS#8 (the same key, inside the `rsaEncryption` PrivateKeyInfo envelope); a PKCS#8 key is
 * returned as it is.
 */

const PKCS1 = /-----BEGIN RSA PRIVATE KEY-----([\s\S]+?)-----END RSA PRIVATE KEY-----/;
/** AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }. */
const RSA_ALGORITHM = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
const VERSION_0 = [0x02, 0x01, 0x00];

function derLength(length: number): number[] {
  if (length < 0x80) return [length];
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return [0x80 | bytes.length, ...bytes];
}

export function toPkcs8Pem(pem: string): string {
  const match = PKCS1.exec(pem);
  if (!match) return pem;
  const pkcs1 = Uint8Array.from(atob((match[1] ?? "").replace(/\s+/g, "")), (char) => char.charCodeAt(0));
  const octets = [0x04, ...derLength(pkcs1.length), ...pkcs1];
  const body = [...VERSION_0, ...RSA_ALGORITHM, ...octets];
  const der = Uint8Array.from([0x30, ...derLength(body.length), ...body]);
  let binary = "";
  for (const byte of der) binary += String.fromCharCode(byte);
  const lines = btoa(binary).match(/.{1,64}/g) ?? [];
  return ["-----BEGIN PRIVATE KEY-----", ...lines, "-----END PRIVATE KEY-----"].join("\n");
}
