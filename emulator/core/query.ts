import { XMLBuilder } from 'fast-xml-parser';

/**
 * AWS query protocols (EC2 and IAM/STS) send flat form fields such as
 * `TagSpecification.1.Tag.2.Key=x` or `Tags.member.1.Key=x`. `unflattenQuery` turns them into
 * nested objects: numeric segments make arrays (1-based), `member` segments are transparent.
 */
export function unflattenQuery(params: URLSearchParams): Record<string, any> {
  const root: Record<string, any> = {};
  for (const [rawKey, value] of params) {
    if (rawKey === 'Action' || rawKey === 'Version') continue;
    const parts = rawKey.split('.').filter((p) => p !== 'member');
    let node: any = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const last = i === parts.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(parts[i + 1]!);
      const key: string | number = /^\d+$/.test(part) ? Number(part) - 1 : part;
      if (last) {
        node[key] = value;
      } else {
        if (node[key] === undefined) node[key] = nextIsIndex ? [] : {};
        node = node[key];
      }
    }
  }
  return compactArrays(root);
}

function compactArrays(v: any): any {
  if (Array.isArray(v)) return v.filter((x) => x !== undefined).map(compactArrays);
  if (v && typeof v === 'object') {
    for (const k of Object.keys(v)) v[k] = compactArrays(v[k]);
  }
  return v;
}

/** Values of a list field whatever its shape (`X.1`, `X.member.1`, or a single value). */
export function listOf<T = any>(v: unknown): T[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v as T[];
  return [v as T];
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: false,
});

/** Arrays become `<item>` (EC2) or `<member>` (IAM/STS) children; null/undefined are omitted. */
function shapeForXml(v: any, listElement: 'item' | 'member'): any {
  if (Array.isArray(v)) return { [listElement]: v.map((x) => shapeForXml(x, listElement)) };
  if (v instanceof Date) return v.toISOString();
  if (v && typeof v === 'object') {
    const out: Record<string, any> = {};
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined || val === null) continue;
      out[k] = shapeForXml(val, listElement);
    }
    return out;
  }
  return v;
}

export function xml(doc: Record<string, any>): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(doc)}`;
}

export const EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export function ec2Response(action: string, requestId: string, body: Record<string, any>): string {
  return xml({
    [`${action}Response`]: {
      '@_xmlns': EC2_XMLNS,
      requestId,
      ...shapeForXml(body, 'item'),
    },
  });
}

export function ec2Error(code: string, message: string, requestId: string): string {
  return xml({ Response: { Errors: { Error: { Code: code, Message: message } }, RequestID: requestId } });
}

export function queryResponse(
  action: string,
  xmlns: string,
  requestId: string,
  result: Record<string, any>,
): string {
  return xml({
    [`${action}Response`]: {
      '@_xmlns': xmlns,
      [`${action}Result`]: shapeForXml(result, 'member'),
      ResponseMetadata: { RequestId: requestId },
    },
  });
}

export function queryError(
  xmlns: string,
  code: string,
  message: string,
  status: number,
  requestId: string,
): string {
  return xml({
    ErrorResponse: {
      '@_xmlns': xmlns,
      Error: { Type: status >= 500 ? 'Receiver' : 'Sender', Code: code, Message: message },
      RequestId: requestId,
    },
  });
}
