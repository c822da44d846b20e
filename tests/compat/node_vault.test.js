// SPDX-License-Identifier: Apache-2.0
// node-vault 0.12 against cofferd: its token, policy, AppRole and lease commands as an application
// calls them. Run by ctest as `node --test tests/compat/node_vault.test.js` with NODE_PATH at the
// node_modules that tests/run.sh installs from tests/compat/package.json, and COFFERD at the server.
// Starts its own `cofferd --dev` on a free port; every answer is checked, not just "no error".
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { useCofferd } = require('./node_helpers');

const ROOT = `cof.${crypto.randomBytes(32).toString('base64url')}`;
const READ = 'path "sys/policy/*" {\n  capabilities = ["read"]\n}\n';
const CREATOR = 'path "auth/token/create" {\n  capabilities = ["update"]\n}\n' +
    'path "auth/token/create-orphan" {\n  capabilities = ["update"]\n}\n';
const TOKEN_RE = /^cof\.[A-Za-z0-9_-]{43}$/;

const cofferd = useCofferd(ROOT);

// A new client each time: node-vault switches a client to the token of any answer with auth.
function vault(token = ROOT) {
    return cofferd.client(token);
}

async function rejectsWith(promise, status, message) {
    await assert.rejects(promise, (err) => {
        assert.equal(err.response && err.response.statusCode, status, String(err));
        if (message) assert.equal(err.message, message);
        return true;
    });
}

async function alive(token) {
    try {
        await vault(token).tokenLookupSelf();
        return true;
    } catch (err) {
        assert.equal(err.response && err.response.statusCode, 403, String(err));
        assert.deepEqual(err.response.body, { errors: ['permission denied'] });
        return false;
    }
}

test('setup policies through addPolicy/getPolicy/policies/removePolicy', async () => {
    const v = vault();
    assert.equal(await v.addPolicy({ name: 'nv-read', rules: READ }), '');
    assert.equal(await v.addPolicy({ name: 'nv-creator', rules: CREATOR }), '');
    assert.equal(await v.addPolicy({ name: 'nv-temp', rules: READ }), '');
    const got = await v.getPolicy({ name: 'nv-read' });
    assert.equal(got.rules, READ);
    assert.equal(got.data.rules, READ);
    assert.equal(got.name, 'nv-read');
    const list = await v.policies();
    for (const p of ['nv-read', 'nv-creator', 'default', 'root']) {
        assert.ok(list.policies.includes(p), JSON.stringify(list));
    }
    assert.equal(await v.removePolicy({ name: 'nv-temp' }), '');
    await rejectsWith(v.getPolicy({ name: 'nv-temp' }), 404);
    assert.ok(!(await v.policies()).policies.includes('nv-temp'));
    await rejectsWith(v.removePolicy({ name: 'root' }), 400);
    const bad = v.addPolicy({ name: 'nv-bad', rules: 'path "a" {\n  capabilities = ["read"\n' });
    await assert.rejects(bad, (err) => err.response.statusCode === 400 && /line/.test(err.message));
});

test('tokenCreate, tokenLookupSelf and a bad token', async () => {
    const v = vault();
    const res = await v.tokenCreate({ policies: ['nv-read'], ttl: '1h', meta: { app: 'nv' },
        display_name: 'nv', renewable: true });
    assert.match(res.auth.client_token, TOKEN_RE);
    assert.deepEqual(res.auth.policies, ['default', 'nv-read']);
    assert.deepEqual(res.auth.metadata, { app: 'nv' });
    assert.equal(res.auth.lease_duration, 3600);
    assert.equal(res.auth.renewable, true);
    assert.equal(v.token, res.auth.client_token, 'node-vault adopts the created token');
    const self = await v.tokenLookupSelf();
    assert.equal(self.data.id, res.auth.client_token);
    assert.equal(self.data.accessor, res.auth.accessor);
    assert.deepEqual(self.data.meta, { app: 'nv' });
    assert.equal(self.data.path, 'auth/token/create');
    assert.ok(self.data.ttl > 3500 && self.data.ttl <= 3600, String(self.data.ttl));
    // Granted read works; anything else is permission denied.
    assert.equal((await v.getPolicy({ name: 'nv-read' })).rules, READ);
    await rejectsWith(v.addPolicy({ name: 'x', rules: READ }), 403, 'permission denied');
    await rejectsWith(vault(`cof.${crypto.randomBytes(32).toString('base64url')}`).tokenLookupSelf(),
        403, 'permission denied');
});

test('tokenCreateOrphan, children and tokenRevokeOrphan', async () => {
    const parent = (await vault().tokenCreate({ policies: ['nv-creator'] })).auth;
    const child = (await vault(parent.client_token).tokenCreate({ policies: ['nv-creator'] })).auth;
    assert.equal(child.orphan, false);
    const orphan = (await vault(parent.client_token).tokenCreateOrphan({ policies: ['nv-creator'] })).auth;
    assert.equal(orphan.orphan, true);
    assert.equal(await vault().tokenRevoke({ token: parent.client_token }), '');
    assert.equal(await alive(parent.client_token), false);
    assert.equal(await alive(child.client_token), false);
    assert.equal(await alive(orphan.client_token), true);

    const p2 = (await vault().tokenCreate({ policies: ['nv-creator'] })).auth;
    const c2 = (await vault(p2.client_token).tokenCreate({ policies: ['nv-creator'] })).auth;
    assert.equal(await vault().tokenRevokeOrphan({ token: p2.client_token }), '');
    assert.equal(await alive(p2.client_token), false);
    assert.equal(await alive(c2.client_token), true);
    assert.equal((await vault(c2.client_token).tokenLookupSelf()).data.orphan, true);
});

test('tokenLookup, tokenLookupAccessor and tokenAccessors', async () => {
    const t = (await vault().tokenCreate({ policies: ['default'], meta: { k: 'v' } })).auth;
    const byToken = await vault().tokenLookup({ token: t.client_token });
    assert.equal(byToken.data.accessor, t.accessor);
    assert.deepEqual(byToken.data.meta, { k: 'v' });
    const byAccessor = await vault().tokenLookupAccessor({ accessor: t.accessor });
    assert.equal(byAccessor.data.accessor, t.accessor);
    assert.deepEqual(byAccessor.data.meta, { k: 'v' });
    const accessors = await vault().tokenAccessors();
    assert.ok(accessors.data.keys.includes(t.accessor));
    await rejectsWith(vault(t.client_token).tokenAccessors(), 403, 'permission denied');
});

test('tokenRenew and tokenRenewSelf', async () => {
    const t = (await vault().tokenCreate({ policies: ['default'], ttl: '10m' })).auth;
    const renewed = await vault().tokenRenew({ token: t.client_token, increment: 3600 });
    assert.equal(renewed.auth.lease_duration, 3600);
    assert.equal(renewed.auth.accessor, t.accessor);
    const self = await vault(t.client_token).tokenRenewSelf({ increment: '30m' });
    assert.equal(self.auth.lease_duration, 1800);
    const ttl = (await vault(t.client_token).tokenLookupSelf()).data.ttl;
    assert.ok(ttl > 1790 && ttl <= 1800, String(ttl));
    const plain = await vault(t.client_token).tokenRenewSelf();
    assert.equal(plain.auth.lease_duration, 1800, 'no increment: the current period again');
});

test('tokenRevoke, tokenRevokeSelf and tokenRevokeAccessor', async () => {
    const a = (await vault().tokenCreate({ policies: ['default'] })).auth;
    assert.equal(await vault(a.client_token).tokenRevokeSelf(), '');
    assert.equal(await alive(a.client_token), false);
    const b = (await vault().tokenCreate({ policies: ['default'] })).auth;
    assert.equal(await vault().tokenRevokeAccessor({ accessor: b.accessor }), '');
    assert.equal(await alive(b.client_token), false);
    const c = (await vault().tokenCreate({ policies: ['default'] })).auth;
    assert.equal(await vault().tokenRevoke({ token: c.client_token }), '');
    assert.equal(await alive(c.client_token), false);
});

test('token roles: addTokenRole, getTokenRole, tokenRoles, tokenCreateRole, removeTokenRole', async () => {
    const v = vault();
    assert.equal(await v.addTokenRole({ role_name: 'nv-role', allowed_policies: 'nv-read',
        orphan: true, renewable: true }), '');
    const role = await v.getTokenRole({ role_name: 'nv-role' });
    assert.deepEqual(role.data.allowed_policies, ['nv-read']);
    assert.equal(role.data.orphan, true);
    assert.ok((await v.tokenRoles()).data.keys.includes('nv-role'));
    const made = await vault().tokenCreateRole({ role_name: 'nv-role', policies: ['nv-read'] });
    assert.deepEqual(made.auth.policies, ['default', 'nv-read']);
    assert.equal(made.auth.orphan, true);
    assert.equal((await vault(made.auth.client_token).tokenLookupSelf()).data.path,
        'auth/token/create/nv-role');
    await rejectsWith(vault().tokenCreateRole({ role_name: 'nv-role', policies: ['nv-creator'] }), 400);
    assert.equal(await v.removeTokenRole({ role_name: 'nv-role' }), '');
    await rejectsWith(v.getTokenRole({ role_name: 'nv-role' }), 404);
});

test('leases: renew, revoke and revokePrefix', async () => {
    const t = (await vault().tokenCreate({ policies: ['default'], ttl: '5m' })).auth;
    // Coffer's lookup names the lease (its id is random, not the accessor).
    const leaseId = (await vault(t.client_token).tokenLookupSelf()).data.lease_id;
    assert.match(leaseId, /^auth\/token\/create\/[A-Za-z0-9]{32}$/);
    const renewed = await vault().renew({ lease_id: leaseId, increment: 600 });
    const duration = renewed.lease_duration || (renewed.auth && renewed.auth.lease_duration);
    assert.equal(duration, 600, JSON.stringify(renewed));
    const ttl = (await vault(t.client_token).tokenLookupSelf()).data.ttl;
    assert.ok(ttl > 590 && ttl <= 600, String(ttl));
    assert.equal(await vault().revoke({ lease_id: leaseId }), '');
    assert.equal(await alive(t.client_token), false);

    await vault().addTokenRole({ role_name: 'nv-prefix', allowed_policies: 'nv-read' });
    const inPrefix = (await vault().tokenCreateRole({ role_name: 'nv-prefix' })).auth;
    const outside = (await vault().tokenCreate({ policies: ['default'] })).auth;
    assert.equal(await vault().revokePrefix({ path_prefix: 'auth/token/create/nv-prefix' }), '');
    assert.equal(await alive(inPrefix.client_token), false);
    assert.equal(await alive(outside.client_token), true);
});

test('approle: enableAuth, auths, roles, role id, secret ids, login', async () => {
    const v = vault();
    assert.equal(await v.enableAuth({ mount_point: 'approle', type: 'approle', description: 'nv' }), '');
    const auths = await v.auths();
    assert.equal(auths['approle/'].type, 'approle');
    assert.equal(auths.data['token/'].type, 'token');
    assert.equal(await v.addApproleRole({ role_name: 'nv-app', policies: 'nv-read,nv-creator',
        secret_id_num_uses: 2, secret_id_ttl: 600, token_ttl: 3600, token_max_ttl: 7200,
        bound_cidr_list: '127.0.0.0/8' }), '');
    const role = (await v.getApproleRole({ role_name: 'nv-app' })).data;
    assert.deepEqual([...(role.token_policies || role.policies)].sort(), ['nv-creator', 'nv-read']);
    assert.equal(role.secret_id_num_uses, 2);
    assert.equal(role.token_ttl, 3600);
    assert.ok((await v.approleRoles()).data.keys.includes('nv-app'));
    const roleId = (await v.getApproleRoleId({ role_name: 'nv-app' })).data.role_id;
    assert.ok(typeof roleId === 'string' && roleId.length > 0);
    assert.equal(await v.updateApproleRoleId({ role_name: 'nv-app', role_id: 'nv-role-id' }), '');
    assert.equal((await v.getApproleRoleId({ role_name: 'nv-app' })).data.role_id, 'nv-role-id');

    const secret = (await v.getApproleRoleSecret({ role_name: 'nv-app',
        metadata: JSON.stringify({ team: 'node' }), cidr_list: ['127.0.0.0/8'] })).data;
    assert.ok(secret.secret_id && secret.secret_id_accessor, JSON.stringify(secret));
    assert.equal(secret.secret_id_num_uses, 2);
    const accessors = await v.approleSecretAccessors({ role_name: 'nv-app' });
    assert.ok(accessors.data.keys.includes(secret.secret_id_accessor));
    const looked = await v.approleSecretLookup({ role_name: 'nv-app', secret_id: secret.secret_id });
    assert.deepEqual(looked.data.metadata, { team: 'node' });
    const byAcc = await v.approleSecretAccessorLookup({ role_name: 'nv-app',
        secret_id_accessor: secret.secret_id_accessor });
    assert.equal(byAcc.data.secret_id_accessor, secret.secret_id_accessor);

    const app = vault(null);
    const login = await app.approleLogin({ role_id: 'nv-role-id', secret_id: secret.secret_id });
    assert.deepEqual(login.auth.policies, ['default', 'nv-creator', 'nv-read']);
    assert.deepEqual(login.auth.metadata, { role_name: 'nv-app' });
    assert.equal(app.token, login.auth.client_token, 'node-vault adopts the login token');
    const self = await app.tokenLookupSelf();
    assert.equal(self.data.path, 'auth/approle/login');
    assert.equal((await app.getPolicy({ name: 'nv-read' })).rules, READ);
    // Two uses: the second login works, the third is refused.
    await vault(null).approleLogin({ role_id: 'nv-role-id', secret_id: secret.secret_id });
    await rejectsWith(vault(null).approleLogin({ role_id: 'nv-role-id', secret_id: secret.secret_id }), 400);

    const s2 = (await v.getApproleRoleSecret({ role_name: 'nv-app' })).data;
    assert.equal(await v.approleSecretDestroy({ role_name: 'nv-app', secret_id: s2.secret_id }), '');
    await rejectsWith(vault(null).approleLogin({ role_id: 'nv-role-id', secret_id: s2.secret_id }), 400);
    const s3 = (await v.getApproleRoleSecret({ role_name: 'nv-app' })).data;
    assert.equal(await v.approleSecretAccessorDestroy({ role_name: 'nv-app',
        secret_id_accessor: s3.secret_id_accessor }), '');
    await rejectsWith(vault(null).approleLogin({ role_id: 'nv-role-id', secret_id: s3.secret_id }), 400);

    assert.equal(await v.deleteApproleRole({ role_name: 'nv-app' }), '');
    await rejectsWith(v.getApproleRole({ role_name: 'nv-app' }), 404);
    assert.equal(await v.disableAuth({ mount_point: 'approle' }), '');
    assert.ok(!('approle/' in (await v.auths()).data));
});
