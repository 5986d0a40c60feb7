import type { EmulatorContext } from '../../core/context.ts';
import { stableHex, zonesOf } from './util.ts';

/** What AWS offers in a region without being asked: endpoint services and the default endpoint policy. */

/** The default endpoint policy AWS attaches when none is given (and after ResetPolicy). */
export const FULL_ACCESS_POLICY =
  '{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}';

/** Endpoint services the emulator offers, in Bedrock regions only. */
const ENDPOINT_SERVICES = ['bedrock-runtime', 'bedrock'] as const;

export function endpointServices(ctx: EmulatorContext, region: string) {
  if (!ctx.isBedrockRegion(region)) return [];
  const zones = zonesOf(region);
  return ENDPOINT_SERVICES.map((short) => {
    const serviceName = `com.amazonaws.${region}.${short}`;
    return {
      serviceName,
      serviceId: `vpce-svc-${stableHex(serviceName, 17)}`,
      serviceType: [{ serviceType: 'Interface' }],
      serviceRegion: region,
      availabilityZoneSet: zones.map((z) => z.zoneName),
      availabilityZoneIdSet: zones.map((z) => z.zoneId),
      owner: 'amazon',
      baseEndpointDnsNameSet: [`${short}.${region}.vpce.amazonaws.com`],
      privateDnsName: `${short}.${region}.amazonaws.com`,
      privateDnsNameSet: [{ privateDnsName: `${short}.${region}.amazonaws.com` }],
      vpcEndpointPolicySupported: true,
      acceptanceRequired: false,
      managesVpcEndpoints: false,
      privateDnsNameVerificationState: 'verified',
      supportedIpAddressTypeSet: ['ipv4'],
      tagSet: [],
    };
  });
}
