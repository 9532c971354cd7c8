// The OpenID provider the test suite starts: node tests/oidc/provider.mjs <port>
//
// oidc-provider (certified OpenID Connect provider, vendored in node_modules: the suite
// needs no network) with its development sign-in and consent pages (devInteractions:
// the password is not checked; the log-in name is the account). One client, the
// directory, with the redirect URI of the directory under test (OIDC_REDIRECT_URI),
// authenticating with its secret, PKCE required. Prints "listening on <issuer>" when ready.
//
// oidc-provider 9.13.3, not 8.x: 9.x is the only major its author still supports (its
// README's "Supported Versions"), and its tree is 40 packages, 3.4 MB, against 8.8.1's 102
// packages, 8.9 MB. On Node 20 it prints "Unsupported runtime. Use Node.js v22.x LTS" to
// stderr and works (the suite runs it on Node 20.20); 8.x would be silent there.
// Update: npm install --prefix tests/oidc oidc-provider@<version> (commit node_modules).
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
if (!port) {
  console.error('usage: node provider.mjs <port>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const redirectUri = process.env.OIDC_REDIRECT_URI
  || 'http://localhost/directory/api/v1/sso/callback';

// The platform's accounts (the subject is the log-in name). amr: how the platform says
// it authenticated the person (RFC 8176); "otp" is a second factor.
const ACCOUNTS = {
  'chen.jing': { name: '陈静' },
  stranger: { name: '陌生人' },
  'sec.admin': { name: '安全管理员', amr: ['pwd', 'otp'] },
  'audit.admin': { name: '审计管理员', amr: ['pwd'] },
};

// A fresh signing key per run: the directory reads it from /jwks.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `test-${port}`, alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.OIDC_CLIENT_ID || 'onestop-directory',
    client_secret: process.env.OIDC_CLIENT_SECRET || 'onestop-directory-secret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  claims: { amr: null, openid: ['sub', 'amr'], profile: ['name'] }, // amr in every ID token
  cookies: { keys: ['onestop-test-cookie-key'] },
  async findAccount(ctx, sub) {
    const account = ACCOUNTS[sub];
    if (!account) return undefined;
    return { accountId: sub, async claims() { return { sub, name: account.name }; } };
  },
});

// The development sign-in page finishes with { login: { accountId } }: add the account's
// amr, as a real platform does after its own second factor.
const finished = provider.interactionFinished.bind(provider);
provider.interactionFinished = (req, res, result, options) => {
  const amr = result?.login && ACCOUNTS[result.login.accountId]?.amr;
  if (amr) result.login.amr = amr;
  return finished(req, res, result, options);
};

provider.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${issuer}`);
});
