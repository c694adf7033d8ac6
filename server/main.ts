import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.ts';
import { startServer } from './app.ts';
import { logger } from './logger.ts';
import { poolSize, startFrontDoor } from './pool/FrontDoor.ts';
import { memberOverrides, memberSettings, runPoolMember } from './pool/poolMember.ts';

const USAGE = 'usage: tsx server/main.ts [--config FILE.yaml] [--port N] [--host ADDR]';

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({ options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean' } } }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const server: Record<string, unknown> = {};
  if (args.port !== undefined) server.port = Number(args.port);
  if (args.host !== undefined) server.host = args.host;
  const configPath = args.config ?? process.env.AVATAR_CONFIG;
  const member = memberSettings();
  let config;
  try {
    config = loadConfig(configPath, member ? memberOverrides(member) : { server });
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  if (member) return runPoolMember(config);
  const processes = poolSize(config);
  const running = processes > 1 ? await startFrontDoor(config, configPath ? ['--config', configPath] : [], processes) : await startServer(config);
  logger.info({ url: running.url, codec: config.video.codec, maxSessions: config.sessions.max, processes }, `listening on ${running.url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error({ timeoutMs: config.server.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.server.shutdownTimeoutMs);
    force.unref();
    running.close().then(
      () => {
        logger.info({ signal }, 'shut down cleanly');
        logger.flush();
        process.exit(0);
      },
      (err: Error) => {
        logger.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: Error) => {
  logger.fatal({ err: err.message, stack: err.stack }, 'server failed to start');
  process.exit(1);
});
