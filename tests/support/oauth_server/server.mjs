// A real OAuth 2.1 authorization server for vertex-stdio's sign-in tests: panva/node-oidc-provider
// with dynamic client registration, PKCE S256, resource indicators (opaque access tokens, checked by
// introspection), rotating refresh tokens, revocation, RFC 9207 `iss` and the RFC 8628 device grant
// (its own user-code pages at /device, then the same consent form).  Loopback only.
//
// Environment:
//   AS_SCOPES     the resource's scopes (default: the five VertexSMS scopes)
//   AS_AT_TTL     access-token lifetime in seconds (default 600)
//   AS_AT_FORMAT  access-token format: opaque (default) or jwt
//   AS_JOURNAL    file that receives one JSON line per token, registration and revocation event
//   AS_CLIENTS    JSON array of extra static clients (e.g. a pre-registered public client)
//   AS_NO_REGISTRATION  1: no dynamic client registration (no registration_endpoint in the metadata)
//   AS_NO_REFRESH 1: no refresh tokens (every renewal needs a new sign-in)
//   AS_REFRESH_ALWAYS 1: a refresh token for every client allowed the grant (the library's default
//                 issues one to a confidential client only with offline_access)
//   AS_CLIENT_CREDENTIALS 1: the client_credentials grant is on (for the clients in AS_CLIENTS that list it,
//                 with client_secret_basic/_post or private_key_jwt); every grant is journalled with
//                 `auth`, how the client authenticated (basic, post, private_key_jwt, none)
//   AS_POST_ONLY  1: the token and revocation endpoints refuse a client authenticated with HTTP Basic
//                 (401 invalid_client, journalled as `basic_refused`) while the metadata still lists
//                 client_secret_basic: the library itself takes a secret either way
// Grant journal lines carry `secrets` (the code, PKCE verifier, client assertion and tokens spent or issued): test-only.
// Prints `READY <port>` on stdout once it listens on 127.0.0.1.  The consent page is a tiny form:
// POST /interaction/<uid>/confirm grants every requested scope, POST /interaction/<uid>/abort declines.
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const SCOPES = process.env.AS_SCOPES || 'sms:send sms:rates sender:write hlr:lookup numbers:read';
const AT_TTL = Number(process.env.AS_AT_TTL || 600);
const AT_FORMAT = process.env.AS_AT_FORMAT || 'opaque';
const JOURNAL = process.env.AS_JOURNAL;
const EXTRA_CLIENTS = JSON.parse(process.env.AS_CLIENTS || '[]');

function journal(entry) {
  if (JOURNAL) appendFileSync(JOURNAL, `${JSON.stringify({ at: Date.now(), ...entry })}\n`);
}

function isLoopback(url) {
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'introspector',
      client_secret: 'introspector-secret',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
    ...EXTRA_CLIENTS,
  ],
  scopes: ['openid', 'offline_access'],
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: process.env.AS_NO_REGISTRATION !== '1' },
    revocation: { enabled: true },
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: process.env.AS_CLIENT_CREDENTIALS === '1' },
    introspection: {
      enabled: true,
      allowedPolicy: async () => true,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (!isLoopback(resourceIndicator)) throw new Error('test AS serves loopback resources only');
        return { scope: SCOPES, audience: resourceIndicator, accessTokenTTL: AT_TTL, accessTokenFormat: AT_FORMAT };
      },
    },
  },
  ...(process.env.AS_NO_REFRESH === '1' ? { issueRefreshToken: async () => false } : {}),
  ...(process.env.AS_REFRESH_ALWAYS === '1'
    ? { issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token') }
    : {}),
  pkce: { required: () => true },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600 },
  cookies: { keys: ['test-only-cookie-key'] },
});

function clientAuth(ctx) {
  const body = ctx?.oidc?.body || {};
  if (/^basic /i.test(ctx?.headers?.authorization || '')) return 'basic';
  if (body.client_assertion) return 'private_key_jwt';
  return body.client_secret ? 'post' : 'none';
}

for (const [event, name] of [
  ['grant.success', 'grant'],
  ['grant.error', 'grant_error'],
  ['registration_create.success', 'registration'],
  ['authorization.error', 'authorization_error'],
  ['grant.revoked', 'grant_revoked'],
]) {
  provider.on(event, (ctx, err) => {
    const params = ctx?.oidc?.params || {};
    journal({
      event: name,
      grant_type: params.grant_type,
      resource: params.resource,
      scope: params.scope,
      client_id: ctx?.oidc?.client?.clientId,
      error: err?.error,
      token_type_hint: params.token_type_hint,
      auth: clientAuth(ctx),
      // Test-only: what was spent and issued, so the secret-hygiene test knows every secret to look for.
      secrets: [params.code, params.code_verifier, params.refresh_token, params.device_code, ctx?.body?.access_token, ctx?.body?.refresh_token, ctx?.oidc?.body?.client_assertion]
        .filter((v) => typeof v === 'string' && v),
    });
  });
}

if (process.env.AS_POST_ONLY === '1') {
  provider.use(async (ctx, next) => {
    const basic = /^basic /i.test(ctx.headers.authorization || '');
    if (basic && (ctx.path === '/token' || ctx.path === '/token/revocation')) {
      journal({ event: 'basic_refused', path: ctx.path });
      ctx.status = 401;
      ctx.body = { error: 'invalid_client', error_description: 'client_secret_post only' };
      return;
    }
    await next();
  });
}

// One journal line per revocation request (the provider emits no event for a token already gone).
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token/revocation') {
    journal({
      event: 'revocation',
      status: ctx.status,
      token_type_hint: ctx.oidc?.params?.token_type_hint,
      client_id: ctx.oidc?.client?.clientId,
    });
  }
});

function page(uid) {
  return `<!doctype html><html><body><h1>Consent</h1>
<form method="post" action="/interaction/${uid}/confirm"><button>Allow</button></form>
<form method="post" action="/interaction/${uid}/abort"><button>Deny</button></form></body></html>`;
}

async function confirm(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    return provider.interactionFinished(req, res, { login: { accountId: 'user-1' } }, { mergeWithLastSubmission: false });
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function interaction(req, res, parts) {
  const [uid, action] = parts;
  if (req.method === 'GET' && !action) {
    await provider.interactionDetails(req, res);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(page(uid));
  }
  if (req.method === 'POST' && action === 'confirm') return confirm(req, res);
  if (req.method === 'POST' && action === 'abort') {
    return provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'The person declined.' },
      { mergeWithLastSubmission: false },
    );
  }
  res.writeHead(404);
  return res.end();
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  const parts = new URL(req.url, issuer).pathname.split('/').filter(Boolean);
  if (parts[0] !== 'interaction') return callback(req, res);
  try {
    return await interaction(req, res, parts.slice(1));
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    return res.end(`interaction failed: ${err.name}`);
  }
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.stdout.write(`READY ${port}\n`);
