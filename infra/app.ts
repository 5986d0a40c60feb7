/**
 * CDK entry point (`npx cdk synth` / `npx cdk deploy` run `node infra/app.ts`). Configuration comes
 * from CDK context (cdk.json or `-c privatelink-verify:<key>=<value>`); see infra/config.ts.
 */
import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { PrivateLinkVerifyConfigInput } from './config.ts';
import { PrivateLinkVerifyStack } from './stack.ts';
import type { TaskCodeMode } from './task-functions.ts';

export const STACK_NAME = 'PrivateLinkVerify';

export interface CreateAppOptions {
  appProps?: AppProps;
  config?: PrivateLinkVerifyConfigInput;
  /** `placeholder-for-tests` skips bundling: template tests only. */
  taskCode?: TaskCodeMode;
  /** cdk-nag runs on every synth unless a caller turns it off (never for deploying). */
  nag?: boolean;
}

export function createApp(options: CreateAppOptions = {}): { app: App; stack: PrivateLinkVerifyStack } {
  const app = new App(options.appProps);
  const stack = new PrivateLinkVerifyStack(app, STACK_NAME, {
    ...(options.config ? { config: options.config } : {}),
    ...(options.taskCode ? { taskCode: options.taskCode } : {}),
  });
  if (options.nag !== false) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

if (import.meta.main) {
  try {
    createApp().app.synth();
  } catch (err) {
    // A configuration mistake should read as one clear message, not a stack trace.
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
