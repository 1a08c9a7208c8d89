import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeKeyPath, signGet } from "../../src/backend/s3-sign.js";

describe("signGet", () => {
  // The example of a signed GET with a Range in Amazon S3's documentation of Signature
  // Version 4 ("Authenticating Requests: Using the Authorization Header").
  const example = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1" };
  const at = new Date("2013-05-24T00:00:00Z");

  it("signs S3's documented example to its documented signature", () => {
    const h = signGet(example, "examplebucket.s3.amazonaws.com", "/test.txt", { range: "bytes=0-9" }, at);
    assert.equal(
      h["authorization"],
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
    assert.equal(h["x-amz-date"], "20130524T000000Z");
    assert.equal(h["host"], "examplebucket.s3.amazonaws.com");
  });

  it("signs a session token, and another region, day or secret gives another signature", () => {
    const sig = (id: typeof example & { sessionToken?: string }, when = at): string => /Signature=([0-9a-f]{64})$/.exec(signGet(id, "h", "/k", {}, when)["authorization"] ?? "")?.[1] ?? "";
    const base = sig(example);
    const withToken = signGet({ ...example, sessionToken: "tok" }, "h", "/k", {}, at);
    assert.equal(withToken["x-amz-security-token"], "tok");
    assert.match(withToken["authorization"] ?? "", /SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/);
    const others = [sig({ ...example, sessionToken: "tok" }), sig({ ...example, region: "eu-west-1" }), sig(example, new Date("2013-05-25T00:00:00Z")), sig({ ...example, secretAccessKey: "other" })];
    for (const o of others) assert.notEqual(o, base);
    assert.equal(new Set(others).size, others.length);
    assert.equal(sig(example), base, "the cached signing key gives the same signature");
  });
});

describe("encodeKeyPath", () => {
  it("percent-encodes each segment as RFC 3986 wants, keeping the slashes", () => {
    assert.equal(encodeKeyPath("data/ab/abcdef"), "data/ab/abcdef");
    assert.equal(encodeKeyPath("my repo/it's (1)*!/a+b=c~d_e.f-g"), "my%20repo/it%27s%20%281%29%2A%21/a%2Bb%3Dc~d_e.f-g");
    assert.equal(encodeKeyPath("ü"), "%C3%BC");
  });
});
