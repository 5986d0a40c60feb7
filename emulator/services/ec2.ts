/** EC2 lives in ./ec2/ (one file per resource family); this path stays the import of the service. */
export { FULL_ACCESS_POLICY } from './ec2/catalog.ts';
export { Ec2Service } from './ec2/service.ts';
