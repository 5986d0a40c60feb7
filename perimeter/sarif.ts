/** Static findings as a SARIF 2.1.0 log (node-sarif-builder), each anchored to its file, line and column. */
import { SarifBuilder, SarifResultBuilder, SarifRuleBuilder, SarifRunBuilder } from 'node-sarif-builder';
import type { Finding } from './policy-checks.ts';
import { STATIC_RULES } from './rules.ts';

export const TOOL_NAME = 'privatelink-verify';

/** `findings` with file paths relative to the repository root, as code scanning expects. */
export function sarifLog(findings: readonly Finding[], version: string): string {
  const run = new SarifRunBuilder().initSimple({ toolDriverName: TOOL_NAME, toolDriverVersion: version });
  for (const [ruleId, text] of Object.entries(STATIC_RULES))
    run.addRule(new SarifRuleBuilder().initSimple({ ruleId, shortDescriptionText: text }));
  for (const f of findings)
    run.addResult(
      new SarifResultBuilder().initSimple({
        level: f.level,
        messageText: f.message,
        ruleId: f.rule,
        fileUri: f.at.file,
        startLine: f.at.line,
        startColumn: f.at.column,
      }),
    );
  const log = new SarifBuilder();
  log.addRun(run);
  return log.buildSarifJsonString({ indent: true });
}
