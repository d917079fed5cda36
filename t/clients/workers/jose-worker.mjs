// A worker as users write it with jose (t/74-webcrypto-libraries.t bundles
// it with esbuild as wrangler would): verifies JWTs signed ES256, RS256 and
// EdDSA, decrypts JWEs (dir + A256GCM, RSA-OAEP-256 + A256GCM), and signs a
// token of its own for the caller to check.
import * as jose from 'jose';

async function reason(promise) {
  try {
    await promise;
    return 'accepted';
  } catch (e) {
    return e.code || e.name;
  }
}

export default {
  async fetch(request) {
    const input = await request.json();
    const out = {};
    for (const alg of ['ES256', 'RS256', 'EdDSA']) {
      const key = await jose.importJWK(input.jwks[alg], alg);
      const { payload, protectedHeader } = await jose.jwtVerify(input.tokens[alg], key, { issuer: 'node', audience: 'dispatch' });
      out[alg] = `${protectedHeader.alg} ${payload.sub} ${payload.scope}`;
    }
    const es256 = await jose.importJWK(input.jwks.ES256, 'ES256');
    out.tampered = await reason(jose.jwtVerify(input.tampered, es256));
    out.expired = await reason(jose.jwtVerify(input.expired, es256));
    out.wrongKey = await reason(jose.jwtVerify(input.tokens.RS256, await jose.importJWK(input.otherRsa, 'RS256')));
    const dir = await jose.jwtDecrypt(input.jwe.dir, jose.base64url.decode(input.secret));
    out.dir = `${dir.protectedHeader.alg} ${dir.protectedHeader.enc} ${dir.payload.sub}`;
    const oaepKey = await jose.importJWK(input.oaepJwk, 'RSA-OAEP-256');
    const { plaintext, protectedHeader } = await jose.compactDecrypt(input.jwe.oaep, oaepKey);
    out.oaep = `${protectedHeader.alg} ${protectedHeader.enc} ${new TextDecoder().decode(plaintext)}`;
    out.oaepTampered = await reason(jose.compactDecrypt(`${input.jwe.oaep.slice(0, -4)}AAAA`, oaepKey));
    const { publicKey, privateKey } = await jose.generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    out.token = await new jose.SignJWT({ sub: 'worker' }).setProtectedHeader({ alg: 'EdDSA' }).setIssuer('worker').sign(privateKey);
    out.jwk = await jose.exportJWK(publicKey);
    return Response.json(out);
  },
};
