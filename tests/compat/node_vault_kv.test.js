// SPDX-License-Identifier: Apache-2.0
// node-vault 0.12 against cofferd, issue #4: its generic read, write, list, delete and update (PATCH
// with Content-Type application/merge-patch+json) on KV v2 paths of secret/ (secret/data/...,
// secret/metadata/..., secret/delete|undelete|destroy/...), on KV v1 and generic mounts, and its
// mounts, mount and unmount commands. Run by ctest as `node --test tests/compat/node_vault_kv.test.js`
// with NODE_PATH at the node_modules that tests/run.sh installs and COFFERD at the server. Starts its
// own `cofferd --dev` on a free port; every answer is checked, not just "no error".
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { useCofferd } = require('./node_helpers');

const ROOT = `cof.${crypto.randomBytes(32).toString('base64url')}`;
const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

const cofferd = useCofferd(ROOT);

// A new client each time: node-vault switches a client to the token of any answer with auth.
function vault(token = ROOT) {
    return cofferd.client(token);
}

async function rejectsWith(promise, status, message) {
    let body;
    await assert.rejects(promise, (err) => {
        assert.equal(err.response && err.response.statusCode, status, String(err));
        if (message) assert.equal(err.message, message);
        body = err.response.body;
        return true;
    });
    return body;
}

function checkVersion(meta, version, { deleted = false, destroyed = false } = {}) {
    assert.equal(meta.version, version, JSON.stringify(meta));
    assert.match(meta.created_time, TIME_RE);
    assert.equal(meta.destroyed, destroyed, JSON.stringify(meta));
    if (deleted) assert.match(meta.deletion_time, TIME_RE);
    else assert.equal(meta.deletion_time, '');
}

test('write and read KV v2 versions on secret/', async () => {
    const v = vault();
    const w1 = await v.write('secret/data/nv/app', { data: { user: 'alice', n: 1 } });
    checkVersion(w1.data, 1);
    assert.equal(w1.data.custom_metadata, null);
    const w2 = await v.write('secret/data/nv/app', { data: { user: 'bob' }, options: { cas: 1 } });
    checkVersion(w2.data, 2);
    const latest = await v.read('secret/data/nv/app');
    assert.deepEqual(latest.data.data, { user: 'bob' });
    checkVersion(latest.data.metadata, 2);
    assert.deepEqual(latest.data.metadata, w2.data);
    const first = await v.read('secret/data/nv/app?version=1');
    assert.deepEqual(first.data.data, { user: 'alice', n: 1 });
    checkVersion(first.data.metadata, 1);
    // check-and-set through write's options.
    await rejectsWith(v.write('secret/data/nv/app', { data: { user: 'eve' }, options: { cas: 1 } }),
        400, 'check-and-set parameter did not match the current version');
    await rejectsWith(v.write('secret/data/nv/app', { data: { user: 'eve' }, options: { cas: 0 } }),
        400, 'check-and-set parameter did not match the current version');
    const created = await v.write('secret/data/nv/fresh', { data: { a: '1' }, options: { cas: 0 } });
    checkVersion(created.data, 1);
    await rejectsWith(v.read('secret/data/nv/nosuch'), 404);
    await rejectsWith(v.read('secret/data/nv/app?version=9'), 404);
    assert.deepEqual((await v.read('secret/data/nv/app')).data.data, { user: 'bob' });
});

test('update sends a merge-patch PATCH that makes a new version', async () => {
    const v = vault();
    await v.write('secret/data/nv/patch', { data: { keep: '1', drop: '2', obj: { x: 1, y: 2 } } });
    const out = await v.update('secret/data/nv/patch',
        { data: { drop: null, obj: { y: null, z: 3 }, added: 'a' } });
    checkVersion(out.data, 2);
    const got = await v.read('secret/data/nv/patch');
    assert.deepEqual(got.data.data, { keep: '1', obj: { x: 1, z: 3 }, added: 'a' });
    await rejectsWith(v.update('secret/data/nv/patch', { data: { a: 1 }, options: { cas: 1 } }),
        400, 'check-and-set parameter did not match the current version');
    await rejectsWith(v.update('secret/data/nv/patch-missing', { data: { a: 1 } }), 404);
    // PATCH on metadata: custom_metadata is merged.
    assert.equal(await v.write('secret/metadata/nv/patch',
        { custom_metadata: { owner: 'ops', tier: '1' } }), '');
    assert.equal(await v.update('secret/metadata/nv/patch',
        { custom_metadata: { tier: null, team: 'node' } }), '');
    const meta = await v.read('secret/metadata/nv/patch');
    assert.deepEqual(meta.data.custom_metadata, { owner: 'ops', team: 'node' });
    // A PATCH without the merge-patch type is refused with 415 (node-vault's request, by hand).
    await rejectsWith(v.request({ path: '/secret/data/nv/patch', method: 'PATCH',
        json: { data: { a: 1 } }, headers: { 'Content-Type': 'application/json' } }), 415);
    assert.equal((await v.read('secret/data/nv/patch')).data.metadata.version, 2);
});

test('list with LIST and with ?list=1 (noCustomHTTPVerbs)', async () => {
    const v = vault();
    for (const p of ['a', 'b', 'dir/c']) await v.write(`secret/data/nv-list/${p}`, { data: { v: p } });
    const out = await v.list('secret/metadata/nv-list');
    assert.deepEqual(out.data.keys, ['a', 'b', 'dir/']);
    const viaGet = cofferd.client(ROOT, { noCustomHTTPVerbs: true });
    assert.deepEqual((await viaGet.list('secret/metadata/nv-list/dir')).data.keys, ['c']);
    const body = await rejectsWith(v.list('secret/metadata/nv-list-empty'), 404, 'Status 404');
    assert.deepEqual(body, { errors: [] });
});

test('delete soft-deletes the latest; delete/undelete/destroy versions; metadata delete', async () => {
    const v = vault();
    for (let i = 1; i <= 3; i++) await v.write('secret/data/nv/del', { data: { i } });
    assert.equal(await v.delete('secret/data/nv/del'), '');
    // A deleted version answers 404 with the envelope, not errors.
    const body = await rejectsWith(v.read('secret/data/nv/del'), 404, 'Status 404');
    assert.equal(body.data.data, null);
    checkVersion(body.data.metadata, 3, { deleted: true });
    assert.equal((await v.read('secret/data/nv/del?version=2')).data.data.i, 2);
    assert.equal(await v.write('secret/undelete/nv/del', { versions: [3] }), '');
    assert.equal((await v.read('secret/data/nv/del')).data.data.i, 3);
    assert.equal(await v.write('secret/delete/nv/del', { versions: [1] }), '');
    await rejectsWith(v.read('secret/data/nv/del?version=1'), 404);
    assert.equal(await v.write('secret/destroy/nv/del', { versions: [2] }), '');
    const destroyed = await rejectsWith(v.read('secret/data/nv/del?version=2'), 404);
    checkVersion(destroyed.data.metadata, 2, { destroyed: true });
    await rejectsWith(v.write('secret/destroy/nv/del', {}), 400, 'no version number provided');
    const meta = await v.read('secret/metadata/nv/del');
    assert.equal(meta.data.current_version, 3);
    assert.deepEqual(Object.keys(meta.data.versions).sort(), ['1', '2', '3']);
    assert.equal(meta.data.versions['2'].destroyed, true);
    assert.equal(await v.delete('secret/metadata/nv/del'), '');
    await rejectsWith(v.read('secret/metadata/nv/del'), 404);
    await rejectsWith(v.read('secret/data/nv/del?version=3'), 404);
});

test('metadata and config through write and read', async () => {
    const v = vault();
    await v.write('secret/data/nv/meta', { data: { a: 1 } });
    assert.equal(await v.write('secret/metadata/nv/meta', { max_versions: 2, cas_required: true }), '');
    await rejectsWith(v.write('secret/data/nv/meta', { data: { a: 2 } }), 400,
        'check-and-set parameter required for this call');
    for (let cas = 1; cas <= 3; cas++) {
        await v.write('secret/data/nv/meta', { data: { a: cas + 1 }, options: { cas } });
    }
    const meta = (await v.read('secret/metadata/nv/meta')).data;
    assert.equal(meta.max_versions, 2);
    assert.equal(meta.cas_required, true);
    assert.deepEqual(Object.keys(meta.versions).sort(), ['3', '4']);
    assert.equal(meta.oldest_version, 3);
    await rejectsWith(v.read('secret/data/nv/meta?version=1'), 404);
    const cfg = await v.read('secret/config');
    assert.deepEqual(cfg.data, { max_versions: 0, cas_required: false, delete_version_after: '0s' });
});

test('mount, mounts and unmount; generic and kv v1 mounts', async () => {
    const v = vault();
    assert.equal(await v.mount({ mount_point: 'nv-gen', type: 'generic', description: 'node' }), '');
    assert.equal(await v.mount({ mount_point: 'nv-kv1', type: 'kv', options: { version: '1' } }), '');
    assert.equal(await v.mount({ mount_point: 'nv-kv2', type: 'kv', options: { version: '2' } }), '');
    const mounts = await v.mounts();
    assert.equal(mounts['nv-gen/'].type, 'generic');
    assert.equal(mounts['nv-gen/'].description, 'node');
    assert.equal(mounts.data['nv-kv1/'].options.version, '1');
    assert.equal(mounts.data['nv-kv2/'].options.version, '2');
    assert.equal(mounts.data['secret/'].options.version, '2');
    await rejectsWith(v.mount({ mount_point: 'nv-gen', type: 'generic' }), 400);

    for (const m of ['nv-gen', 'nv-kv1']) {
        assert.equal(await v.write(`${m}/app/db`, { user: 'u', pw: 'p' }), '');
        assert.deepEqual((await v.read(`${m}/app/db`)).data, { user: 'u', pw: 'p' });
        assert.equal(await v.write(`${m}/app/other`, { x: '1' }), '');
        assert.deepEqual((await v.list(`${m}/app`)).data.keys, ['db', 'other']);
        assert.equal(await v.delete(`${m}/app/db`), '');
        await rejectsWith(v.read(`${m}/app/db`), 404);
        assert.deepEqual((await v.list(`${m}/app/`)).data.keys, ['other']);
    }
    await v.write('nv-kv2/data/k', { data: { v: 'old' } });
    assert.equal(await v.unmount({ mount_point: 'nv-kv2' }), '');
    assert.ok(!('nv-kv2/' in (await v.mounts()).data));
    // Unmount removed the data: a new mount at the same path starts empty.
    await v.mount({ mount_point: 'nv-kv2', type: 'kv', options: { version: '2' } });
    await rejectsWith(v.read('nv-kv2/data/k'), 404);
    for (const m of ['nv-gen', 'nv-kv1', 'nv-kv2']) assert.equal(await v.unmount({ mount_point: m }), '');
});

test('ACL paths include the engine segment', async () => {
    const v = vault();
    await v.addPolicy({ name: 'nv-kv-read', rules: 'path "secret/data/nv-acl/*" {\n  capabilities = ["read"]\n}\n' });
    await v.write('secret/data/nv-acl/db', { data: { pw: 'x' } });
    await v.write('secret/data/nv-other', { data: { pw: 'y' } });
    const t = (await vault().tokenCreate({ policies: ['nv-kv-read'] })).auth.client_token;
    const app = vault(t);
    assert.deepEqual((await app.read('secret/data/nv-acl/db')).data.data, { pw: 'x' });
    await rejectsWith(app.read('secret/metadata/nv-acl/db'), 403, 'permission denied');
    await rejectsWith(app.read('secret/data/nv-other'), 403, 'permission denied');
    await rejectsWith(app.write('secret/data/nv-acl/db', { data: { pw: 'z' } }), 403, 'permission denied');
    await rejectsWith(app.update('secret/data/nv-acl/db', { data: { pw: 'z' } }), 403, 'permission denied');
});
