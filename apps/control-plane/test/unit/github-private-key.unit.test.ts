import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { toPkcs8Pem } from "../../src/scm/github/private-key";

describe("toPkcs8Pem", () => {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pkcs1 = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "pem" }).toString();

  it("rewraps a PKCS#1 key GitHub issues as the PKCS#8 encoding of the same key", () => {
    const converted = toPkcs8Pem(pkcs1);
    expect(converted.trim()).toBe(pkcs8.trim());
    expect(createPrivateKey(converted).export({ type: "pkcs1", format: "pem" }).toString()).toBe(pkcs1);
  });

  it("leaves a PKCS#8 key as it is", () => {
    expect(toPkcs8Pem(pkcs8)).toBe(pkcs8);
  });
});
