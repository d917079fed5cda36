// Node's side of t/74-webcrypto-libraries.t, with the same jose and
// iron-webcrypto (resolved in the npm directory given as argv[2]).
//   node node-side.mjs NPM_DIR make        -> JSON of tokens, keys, sealed data
//   node node-side.mjs NPM_DIR check FILE  -> JSON: Node's verdict on the workers' answers
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';

const [npmDir, mode, file] = process.argv.slice(2);
const require = createRequire(`${npmDir}/`);
const load = (name) => import(pathToFileURL(require.resolve(name)).href);
const jose = await load('jose');
const Iron = await load('iron-webcrypto');
const PASSWORD = 'a password of at least thirty-two characters';

if (mode === 'make') {
  const claims = { sub: 'user-1', scope: 'read' };
  const sign = (alg, key, extra = (j) => j) => extra(new jose.SignJWT(claims).setProtectedHeader({ alg })
    .setIssuedAt().setIssuer('node').setAudience('dispatch').setExpirationTime('10m')).sign(key);
  const out = { tokens: {}, jwks: {}, jwe: {} };
  for (const [alg, options] of [['ES256', {}], ['RS256', { modulusLength: 2048 }], ['EdDSA', { crv: 'Ed25519' }]]) {
    const { publicKey, privateKey } = await jose.generateKeyPair(alg, { ...options, extractable: true });
    out.tokens[alg] = await sign(alg, privateKey);
    out.jwks[alg] = await jose.exportJWK(publicKey);
    if (alg === 'ES256') {
      const [h, p, s] = out.tokens.ES256.split('.');
      const forged = jose.base64url.encode(JSON.stringify({ ...jose.decodeJwt(out.tokens.ES256), scope: 'admin' }));
      out.tampered = [h, forged, s].join('.');
      out.expired = await new jose.SignJWT(claims).setProtectedHeader({ alg }).setExpirationTime(Math.floor(Date.now() / 1000) - 600).sign(privateKey);
      void p;
    }
  }
  out.otherRsa = await jose.exportJWK((await jose.generateKeyPair('RS256', { extractable: true })).publicKey);
  const secret = crypto.getRandomValues(new Uint8Array(32));
  out.secret = jose.base64url.encode(secret);
  out.jwe.dir = await new jose.EncryptJWT(claims).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).setIssuedAt().encrypt(secret);
  const oaep = await jose.generateKeyPair('RSA-OAEP-256', { extractable: true });
  out.jwe.oaep = await new jose.CompactEncrypt(new TextEncoder().encode('hello from node'))
    .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM' }).encrypt(oaep.publicKey);
  out.oaepJwk = await jose.exportJWK(oaep.privateKey);
  out.password = PASSWORD;
  out.sealed = await Iron.seal({ user: 'node', visits: 1 }, PASSWORD, Iron.defaults);
  process.stdout.write(JSON.stringify(out));
} else {
  const answers = JSON.parse(readFileSync(file, 'utf8'));
  const verdict = {};
  const key = await jose.importJWK(answers.jose.jwk, 'EdDSA');
  verdict.token = (await jose.jwtVerify(answers.jose.token, key, { issuer: 'worker' })).payload.sub;
  verdict.sealed = (await Iron.unseal(answers.iron.mine, PASSWORD, Iron.defaults)).user;
  process.stdout.write(JSON.stringify(verdict));
}
