// atlassian-connect-express (ACE) serving hookline's webhook route, for `hookline-bench peer`
// (bench/src/scenarios/peer.rs; BENCHMARKS.md, "peer"). Per request it does what an ACE app
// does before its own handler runs: parse the JSON body, then `addon.authenticate()` (decode
// the JWT, look the tenant up in the store, check the HS256 signature, the expiry and the qsh,
// mint a session token). Then it answers 202 and does nothing else: no queue, no publish.
//
// Environment: PORT (required, not 0: ACE puts it in its base URL); HOOKLINE_PEER_TENANTS (a
// JSON file: an array of `installed` payloads, loaded into the store at start);
// HOOKLINE_PEER_PROCESSES (default 1; more runs a Node `cluster` of that many workers sharing
// the port); HOOKLINE_PEER_EXIT_WITH_STDIN (1: exit when standard input closes, so the peer
// never outlives the bench that started it). Prints one ready line on stdout.
"use strict";

// Express and ACE read the mode from NODE_ENV: production leaves out ACE's development extras
// (descriptor watching and validation, coloured logs, all-debug.js). Auto-registration with a
// product only runs on `addon.register()`, which this app never calls.
process.env.NODE_ENV = "production";

const cluster = require("node:cluster");
const fs = require("node:fs");
const path = require("node:path");

// Every process of the peer carries this name (in /proc/<pid>/stat too), so the bench can
// account its CPU without counting unrelated Node processes.
process.title = "ace-peer";

const READY = "hookline-bench peer ready";
const processes = Number(process.env.HOOKLINE_PEER_PROCESSES || "1");

if (!process.env.PORT) {
  fail("PORT is required");
}
if (/no-auth/.test(process.env.AC_OPTS || "")) {
  fail("AC_OPTS=no-auth would switch ACE's JWT verification off");
}
if (!Number.isInteger(processes) || processes < 1) {
  fail(`HOOKLINE_PEER_PROCESSES must be a positive integer, not ${processes}`);
}

function runPrimary() {
  let listening = 0;
  let stopping = false;
  for (let index = 0; index < processes; index += 1) {
    cluster.fork();
  }
  cluster.on("listening", (_worker, address) => {
    listening += 1;
    if (listening === processes) {
      ready(address.port, `cluster of ${processes} workers`);
    }
  });
  // Workers are stopped and reaped here before the primary exits, so none is left behind.
  const stopWorkers = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) {
      worker.process.kill();
    }
  };
  cluster.on("exit", (worker, code, signal) => {
    if (!stopping) {
      console.error(`bench/peer: worker ${worker.process.pid} exited (${signal || code})`);
      process.exitCode = 1;
      stopWorkers();
    }
    if (Object.keys(cluster.workers).length === 0) {
      process.exit();
    }
  });
  onStop(stopWorkers);
}

function runApp() {
  const express = require("express");
  const ace = require("atlassian-connect-express");

  ace.store.register("hookline-bench-memory", () => new MemoryStore());

  const app = express();
  app.disable("x-powered-by");
  const silent = { info() {}, warn() {}, error() {} };
  const addon = ace(app, {}, silent, {
    descriptorFilename: path.join(__dirname, "atlassian-connect.json"),
    configFileName: path.join(__dirname, "config.json")
  });

  // hookline's ingress takes bodies up to 1 MiB (server.body_limit_bytes).
  app.use(express.json({ limit: "1mb" }));
  // As in ACE's app template: request context for every route.
  app.use(addon.middleware());
  // The route hookline's ingress serves, behind ACE's JWT check. A webhook declared in the
  // descriptor would get ACE's own route instead: the same `authenticate` plus two event
  // emits, answering 204; this one answers 202 as hookline does.
  app.post("/webhooks/:product/:event", addon.authenticate(), (_req, res) => {
    res.status(202).end();
  });

  loadTenants(addon.settings)
    .then(() => {
      const server = app.listen(Number(process.env.PORT), "127.0.0.1", () => {
        if (processes === 1) {
          ready(server.address().port, "1 process");
          onStop(() => process.exit(0));
        }
      });
    })
    .catch(error => fail(`loading the tenants: ${error.stack || error}`));
}

async function loadTenants(store) {
  const file = process.env.HOOKLINE_PEER_TENANTS;
  if (!file) {
    return;
  }
  const tenants = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const tenant of tenants) {
    await store.saveInstallation(tenant, tenant.clientKey);
  }
}

function onStop(stop) {
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  if (process.env.HOOKLINE_PEER_EXIT_WITH_STDIN === "1") {
    process.stdin.once("end", stop);
    process.stdin.once("error", stop);
    process.stdin.resume();
  }
}

function ready(port, shape) {
  const ace = require("atlassian-connect-express/package.json").version;
  console.log(
    `${READY} on 127.0.0.1:${port} (${shape}, atlassian-connect-express ${ace}, node ${process.version})`
  );
}

function fail(message) {
  console.error(`bench/peer: ${message}`);
  process.exit(1);
}

// ACE's store adapter interface (lib/store/*.js in atlassian-connect-express) over a Map:
// values are kept as given, so a lookup is one Map access (no serialisation, no I/O).
class MemoryStore {
  constructor() {
    this.values = new Map();
  }

  static key(key, clientKey) {
    return clientKey ? `${clientKey}:${key}` : key;
  }

  async get(key, clientKey) {
    const value = this.values.get(MemoryStore.key(key, clientKey));
    return value === undefined ? null : value;
  }

  async set(key, value, clientKey) {
    this.values.set(MemoryStore.key(key, clientKey), value);
    return value;
  }

  async del(key, clientKey) {
    this.values.delete(MemoryStore.key(key, clientKey));
  }

  async saveInstallation(value, clientKey) {
    const saved = await this.set("clientInfo", value, clientKey);
    if (saved.installationId) {
      await this.associateInstallations(saved.installationId, clientKey);
    }
    return saved;
  }

  async getAllClientInfos() {
    return [...this.values]
      .filter(([key]) => key.endsWith(":clientInfo"))
      .map(([, value]) => value);
  }

  isMemoryStore() {
    return true;
  }

  async associateInstallations(installationId, clientKey) {
    this.values.set(`installation:${installationId}`, clientKey);
  }

  async deleteAssociation(installationId) {
    this.values.delete(`installation:${installationId}`);
  }

  async getClientSettingsForForgeInstallation(installationId) {
    const clientKey = this.values.get(`installation:${installationId}`);
    return clientKey ? this.get("clientInfo", clientKey) : null;
  }

  forForgeInstallation(installationId) {
    const forgeKey = key => `forge:${installationId}:${key}`;
    return {
      get: async key => this.values.get(forgeKey(key)) ?? null,
      set: async (key, value) => {
        this.values.set(forgeKey(key), value);
        return value;
      },
      del: async key => {
        this.values.delete(forgeKey(key));
      }
    };
  }
}

if (processes > 1 && cluster.isPrimary) {
  runPrimary();
} else {
  runApp();
}
