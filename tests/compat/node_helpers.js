// SPDX-License-Identifier: Apache-2.0
// Shared setup for the node-vault compatibility tests (*.test.js): useCofferd() gives a test file a
// `cofferd --dev` on a free loopback port with a private data dir, started by a before() hook and
// stopped (SIGTERM, must exit 0) by an after() hook. With COFFER_TEST_STORAGE=postgresql its store is
// a table of its own in the tests' PostgreSQL (COFFER_TEST_PG_URL), as coffer_testlib.py does for
// the Python tests. Requiring this module also clears the proxy and VAULT_* variables from the
// environment, before node-vault (which it requires) can see them.
'use strict';

// Loopback only: a proxy from the environment must not see these requests (axios honours them).
for (const name of ['http_proxy', 'https_proxy', 'all_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY']) {
    delete process.env[name];
}
for (const name of ['VAULT_TOKEN', 'VAULT_ADDR', 'VAULT_NAMESPACE', 'VAULT_PREFIX']) delete process.env[name];
process.env.NO_PROXY = '127.0.0.1,localhost';

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');

const nodeVault = require('node-vault');

const COFFERD = process.env.COFFERD ||
    path.join(process.env.COFFER_BUILD_DIR || path.join(__dirname, '..', '..', 'build-test'), 'cofferd');

// sqlite (the default) or postgresql; the PostgreSQL pass must fail, never pass, without its database.
const STORAGE = process.env.COFFER_TEST_STORAGE || 'sqlite';
if (STORAGE !== 'sqlite' && STORAGE !== 'postgresql') {
    throw new Error(`COFFER_TEST_STORAGE=${STORAGE}: want sqlite or postgresql`);
}
if (STORAGE === 'postgresql' && !process.env.COFFER_TEST_PG_URL) {
    throw new Error('COFFER_TEST_STORAGE=postgresql needs COFFER_TEST_PG_URL: start ' +
        'tests/pg_cluster.sh and export its output (tests/run.sh does)');
}

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

function health(url) {
    return new Promise((resolve) => {
        const req = http.get(`${url}/v1/sys/health`, (res) => {
            res.resume();
            resolve(res.statusCode);
        });
        req.on('error', () => resolve(0));
        req.setTimeout(1000, () => { req.destroy(); resolve(0); });
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One dev server with root token `root`; `endpoint` is its base URL once start() has resolved.
class Cofferd {
    constructor(root) {
        this.root = root;
        // PostgreSQL: a new table (an empty vault), the same one at every start.
        this.table = `t_${crypto.randomBytes(12).toString('hex')}`;
        this.server = undefined;
        this.endpoint = undefined;
        this.workdir = undefined;
    }

    async start() {
        assert.ok(fs.existsSync(COFFERD), `cofferd not found at ${COFFERD} (set COFFERD)`);
        this.workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-node-'));
        const data = path.join(this.workdir, 'data');
        fs.mkdirSync(data, { mode: 0o700 });
        let store = ['--data-dir', data];
        if (STORAGE === 'postgresql') {
            const config = path.join(this.workdir, 'dev-storage.json');
            const storage = { type: 'postgresql', connection_url: process.env.COFFER_TEST_PG_URL,
                table: this.table, ha_table: `${this.table}_ha` };
            fs.writeFileSync(config, JSON.stringify({ storage }), { mode: 0o600 });
            store = ['--config', config];
        }
        const stderrPath = path.join(this.workdir, 'stderr.log');
        for (let attempt = 0; attempt < 3; attempt++) {
            const port = await freePort();
            this.endpoint = `http://127.0.0.1:${port}`;
            const err = fs.openSync(stderrPath, 'w');
            this.server = spawn(COFFERD, ['--dev', '--disable-mlock', '--listen', `127.0.0.1:${port}`,
                '--root-token', this.root, ...store],
            { stdio: ['ignore', 'ignore', err] });
            let exited = false;
            this.server.once('exit', () => { exited = true; });
            const deadline = Date.now() + 20000;
            while (!exited && Date.now() < deadline && await health(this.endpoint) !== 200) await sleep(50);
            if (!exited && await health(this.endpoint) === 200) return;
            if (!exited) this.server.kill('SIGKILL');
            const log = fs.readFileSync(stderrPath, 'utf8');
            if (!/in use/i.test(log)) throw new Error(`cofferd did not start:\n${log.slice(-3000)}`);
        }
        throw new Error('cofferd could not bind a free port three times');
    }

    // A new node-vault client for token (options are added to its own).
    client(token = this.root, options = {}) {
        return nodeVault({ apiVersion: 'v1', endpoint: this.endpoint, token, ...options });
    }

    async stop() {
        const { server } = this;
        if (!server || server.exitCode !== null) return;
        const done = new Promise((resolve) => server.once('exit', (code, sig) => resolve({ code, sig })));
        server.kill('SIGTERM');
        const timer = setTimeout(() => server.kill('SIGKILL'), 10000);
        const { code, sig } = await done;
        clearTimeout(timer);
        fs.rmSync(this.workdir, { recursive: true, force: true });
        assert.equal(code, 0, `cofferd exited ${code} (${sig}) after SIGTERM`);
    }
}

// The server of the calling test file: started before its tests, stopped after them.
function useCofferd(root) {
    const cofferd = new Cofferd(root);
    before(() => cofferd.start());
    after(() => cofferd.stop());
    return cofferd;
}

module.exports = { useCofferd };
