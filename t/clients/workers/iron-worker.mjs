// A worker sealing and unsealing session data with iron-webcrypto (PBKDF2,
// AES-256-CBC, HMAC-SHA256), as sealed-cookie libraries do; bundled by
// t/74-webcrypto-libraries.t with esbuild.
import * as Iron from 'iron-webcrypto';

export default {
  async fetch(request) {
    const { password, sealed } = await request.json();
    const fromNode = await Iron.unseal(sealed, password, Iron.defaults);
    const mine = await Iron.seal({ user: 'worker', visits: 2 }, password, Iron.defaults);
    const back = await Iron.unseal(mine, password, Iron.defaults);
    let wrongPassword;
    try {
      await Iron.unseal(mine, `${password}-but-another`, Iron.defaults);
      wrongPassword = 'accepted';
    } catch (e) {
      wrongPassword = e.message;
    }
    return Response.json({ fromNode, back, mine, wrongPassword });
  },
};
