// A real OpenID provider (panva/oidc-provider, not written here) on loopback, configured
// for hubauth's end-to-end test (crates/cli/tests/e2e_oidc_provider.rs).
//
//   node server.mjs [--port=0] [--client-id=...] [--client-secret=...]
//                   [--redirect-uris=URL[,URL]] [--post-logout-redirect-uris=URL[,URL]]
//                   [--token-auth-method=client_secret_post|client_secret_basic]
//                   [--access-token-ttl=SECONDS] [--id-token-ttl=SECONDS]
//                   [--refresh-token-ttl=SECONDS] [--backchannel-logout-uri=URL]
//
// Every option can also come from the environment: --client-id from OP_CLIENT_ID, and so
// on (upper case, OP_ prefix). Port 0 picks a free port. When listening it prints one line
//
//   READY http://127.0.0.1:PORT
//
// and the issuer is exactly that URL. It binds 127.0.0.1 only and makes no other network
// access (no fetching of client metadata, request objects or sector identifiers).
//
// What it is:
// - one confidential client: grant types authorization_code and refresh_token, response
//   type code, PKCE (S256) required, client_secret_post by default;
// - refresh tokens for that client without the offline_access scope (issueRefreshToken);
//   offline_access itself is only granted with prompt=consent, as oidc-provider does;
// - the built-in development login and consent pages (devInteractions): any login name of
//   the accounts below, any password;
// - accounts with email, name, preferred_username and a groups claim (scope "groups");
// - revocation (/token/revocation) and RP-initiated logout (/session/end) enabled;
// - back-channel logout (OpenID Connect Back-Channel Logout 1.0) enabled: with
//   --backchannel-logout-uri the client is registered with that URI and
//   backchannel_logout_session_required (its ID tokens carry sid), and a logout at
//   /session/end posts a logout token there before answering;
// - in-memory storage and keys made at start, so every run starts empty.
//
// Test control on stdin (one JSON object a line, answered by "OK <cmd>" or "ERR <text>"):
//   {"cmd":"set_groups","login":"bob","groups":["visitors"]}
// When stdin is a pipe and closes (the parent exited), the provider exits too.
//
// Quiet: oidc-provider's start-up notices about its development-only parts (which this
// test configuration uses on purpose) are dropped unless OP_VERBOSE=1; every other warning
// and every request that ends in an error is written to stderr.

import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uris': { type: 'string' },
    'post-logout-redirect-uris': { type: 'string' },
    'token-auth-method': { type: 'string' },
    'access-token-ttl': { type: 'string' },
    'id-token-ttl': { type: 'string' },
    'refresh-token-ttl': { type: 'string' },
    'backchannel-logout-uri': { type: 'string' },
  },
  strict: true,
});

function option(name, fallback) {
  const env = `OP_${name.toUpperCase().replaceAll('-', '_')}`;
  return args[name] ?? process.env[env] ?? fallback;
}

function seconds(name, fallback) {
  const value = Number(option(name, String(fallback)));
  if (!Number.isInteger(value) || value <= 0) {
    fail(`--${name} must be a positive number of seconds`);
  }
  return value;
}

function list(name) {
  return option(name, '')
    .split(/[,\s]+/)
    .filter(Boolean);
}

function fail(message) {
  process.stderr.write(`oidc-provider e2e: ${message}\n`);
  process.exit(2);
}

const verbose = process.env.OP_VERBOSE === '1';
const expectedNotices = [
  'oidc-provider NOTICE: ',
  'oidc-provider WARNING: a quick start development-only feature devInteractions',
  'oidc-provider WARNING: a quick start development-only in-memory adapter',
];
// oidc-provider reports through console.info and console.warn; both go to stderr, so that
// stdout carries only READY and the answers to commands.
for (const method of ['info', 'warn']) {
  console[method] = (...items) => {
    const text = items.map(String).join(' ');
    if (verbose || !expectedNotices.some((prefix) => text.startsWith(prefix))) {
      process.stderr.write(`${text}\n`);
    }
  };
}

const port = Number(option('port', '0'));
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail('--port must be a port number');
}
const client = {
  client_id: option('client-id', 'hubauth-e2e'),
  client_secret: option('client-secret', 'e2e-secret-0123456789abcdef'),
  redirect_uris: list('redirect-uris'),
  post_logout_redirect_uris: list('post-logout-redirect-uris'),
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: option('token-auth-method', 'client_secret_post'),
};
const backchannelLogoutUri = option('backchannel-logout-uri', '');
if (backchannelLogoutUri) {
  client.backchannel_logout_uri = backchannelLogoutUri;
  client.backchannel_logout_session_required = true;
}
if (client.redirect_uris.length === 0) {
  fail('--redirect-uris (or OP_REDIRECT_URIS) is required: the hub\'s oauth_callback URL');
}
const ttl = {
  access: seconds('access-token-ttl', 3600),
  id: seconds('id-token-ttl', 3600),
  refresh: seconds('refresh-token-ttl', 24 * 3600),
};

// Login name -> account. `sub` is the login name (the development login page sets the
// account id to what was typed); preferred_username differs on purpose, so a test can
// tell which claim the hub used.
const accounts = new Map([
  ['alice', {
    email: 'alice@example.org', email_verified: true, name: 'Alice Liddell',
    preferred_username: 'aliddell', groups: ['staff', 'hub-admins'],
  }],
  ['bob', {
    email: 'bob@example.org', email_verified: true, name: 'Bob Builder',
    preferred_username: 'bbuilder', groups: ['staff'],
  }],
  ['mallory', {
    email: 'mallory@example.org', email_verified: false, name: 'Mallory Mallet',
    preferred_username: 'mallory', groups: ['visitors'],
  }],
]);

// Bind first, so that port 0 works and the issuer names the real port.
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', () => {
    server.off('error', reject);
    resolve();
  });
}).catch((error) => fail(`cannot listen on 127.0.0.1:${port}: ${error.message}`));
const issuer = `http://127.0.0.1:${server.address().port}`;

// Imported after console is set up: the module warns at import time.
const { default: Provider } = await import('oidc-provider');

// The key comes out as PEM and is parsed again before the JWK export: Node 20 can
// deadlock exporting a JWK from the key object generateKeyPairSync returns, when a garbage
// collection finalizes the key-generation job during the export (seen about once in ten
// test runs, the main thread waiting forever on the key's mutex).
const { privateKey: privatePem } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const signingKey = {
  ...createPrivateKey(privatePem).export({ format: 'jwk' }), kid: 'e2e-rs256', alg: 'RS256', use: 'sig',
};

function htmlEscape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const provider = new Provider(issuer, {
  clients: [client],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  async findAccount(_ctx, sub) {
    const account = accounts.get(sub);
    if (!account) {
      return undefined;
    }
    return {
      accountId: sub,
      async claims() {
        return { sub, ...account, groups: [...account.groups] };
      },
    };
  },
  responseTypes: ['code'],
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    userinfo: { enabled: true },
    // Nothing that could make the provider fetch a URL.
    requestObjects: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
    resourceIndicators: { enabled: false },
  },
  pkce: { required: () => true },
  // oidc-provider refuses to connect to loopback addresses (its SSRF protection), where
  // the hub listens in the test: the one registered back-channel logout URI is let
  // through, every other URL keeps the protection.
  async fetch(url, options) {
    if (backchannelLogoutUri && String(url) === new URL(backchannelLogoutUri).href) {
      const { dispatcher: _ssrfGuard, ...direct } = options;
      return fetch(url, direct);
    }
    return fetch(url, options);
  },
  // The hub asks for openid profile email groups; the client may hold refresh tokens
  // without asking for offline_access.
  async issueRefreshToken(_ctx, registered) {
    return registered.grantTypeAllowed('refresh_token');
  },
  ttl: {
    AccessToken: () => ttl.access,
    AuthorizationCode: () => 60,
    IdToken: () => ttl.id,
    RefreshToken: () => ttl.refresh,
    Interaction: () => 600,
    Session: () => 3600,
    Grant: () => 24 * 3600,
  },
  // Provider and hub share one clock: an expired token is refused at once (the default
  // tolerates 15 s of skew), so short --access-token-ttl values can be tested.
  clockTolerance: 0,
  clientBasedCORS: () => false,
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><head><title>oidc-provider error</title></head><body>
<h1>oidc-provider error</h1>
${Object.entries(out).map(([key, value]) => `<pre id="${htmlEscape(key)}">${htmlEscape(value)}</pre>`).join('\n')}
</body></html>`;
  },
});

// Every request that ends in an error, with the provider's words, so that a failing test
// shows why.
for (const event of [
  'authorization.error', 'grant.error', 'userinfo.error', 'revocation.error',
  'end_session.error', 'server_error', 'backchannel.error', 'jwks.error',
  'discovery.error', 'check_session_origin.error', 'introspection.error',
]) {
  provider.on(event, (ctx, error) => {
    const description = error?.error_description ?? error?.message ?? String(error);
    const detail = error?.error_detail ? ` (${error.error_detail})` : '';
    process.stderr.write(`oidc-provider ${event}: ${error?.error ?? ''} ${description}${detail}\n`);
  });
}

server.on('request', provider.callback());

process.stdout.write(`READY ${issuer}\n`);

// Test control.
if (!process.stdin.isTTY) {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (!line.trim()) {
      return;
    }
    try {
      const command = JSON.parse(line);
      switch (command.cmd) {
        case 'set_groups': {
          const account = accounts.get(command.login);
          if (!account || !Array.isArray(command.groups)) {
            throw new Error(`set_groups needs a known login and a groups array: ${line}`);
          }
          account.groups = command.groups.map(String);
          break;
        }
        default:
          throw new Error(`unknown command: ${line}`);
      }
      process.stdout.write(`OK ${command.cmd}\n`);
    } catch (error) {
      process.stdout.write(`ERR ${error.message}\n`);
    }
  });
  lines.on('close', () => process.exit(0));
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
