import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit } from '@app/config';
import { AppModule } from './app.module';

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await NestFactory.create(AppModule.forConfig(config), { bufferLogs: false });
  app.enableShutdownHooks();
  await app.listen(config.PORT, '0.0.0.0');
  process.stdout.write(`${JSON.stringify({ msg: 'api listening', port: config.PORT })}\n`);
}

bootstrap().catch((err: unknown) => {
  process.stderr.write(`api failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
