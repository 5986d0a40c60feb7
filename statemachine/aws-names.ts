/**
 * Names AWS defines that the contract and the perimeter spec both check against. A module of its
 * own so that the spec (which the contract's execution input carries) and the contract import it
 * without importing each other.
 */

export const REGION_PATTERN =
  /^(us|eu|ap|ca|sa|me|af|il|mx)(-gov)?-(north|south|east|west|central|northeast|southeast|northwest|southwest)-\d$/;

/** AWS commercial and GovCloud regions as of 2026: an input outside this list is a typo, not a new region to try. */
export const AWS_REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'us-gov-east-1',
  'us-gov-west-1',
  'ca-central-1',
  'ca-west-1',
  'mx-central-1',
  'sa-east-1',
  'eu-central-1',
  'eu-central-2',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-south-1',
  'eu-south-2',
  'eu-north-1',
  'il-central-1',
  'me-south-1',
  'me-central-1',
  'af-south-1',
  'ap-east-1',
  'ap-east-2',
  'ap-south-1',
  'ap-south-2',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-6',
  'ap-southeast-7',
] as const;

/** Foundation model id (`anthropic.claude-3-haiku-20240307-v1:0`) or cross-region inference profile (`us.…`). */
export const MODEL_ID_PATTERN = /^((us|eu|apac|us-gov|global)\.)?[a-z0-9-]+\.[a-z0-9.-]+(:\d+)?(:\d+k)?$/;

/**
 * The Bedrock runtime operations a probe call (and a matrix row) may make. Converse is authorized
 * as bedrock:InvokeModel and ConverseStream as bedrock:InvokeModelWithResponseStream (Amazon
 * Bedrock User Guide, "Carry out a conversation with the Converse API operations": "To call
 * Converse, you require permissions for the bedrock:InvokeModel operation. To call
 * ConverseStream, you require permissions for the bedrock:InvokeModelWithResponseStream").
 */
export const BEDROCK_CALLS = {
  InvokeModel: 'bedrock:InvokeModel',
  Converse: 'bedrock:InvokeModel',
  InvokeModelWithResponseStream: 'bedrock:InvokeModelWithResponseStream',
  ConverseStream: 'bedrock:InvokeModelWithResponseStream',
  CountTokens: 'bedrock:CountTokens',
} as const;
export type BedrockCall = keyof typeof BEDROCK_CALLS;
