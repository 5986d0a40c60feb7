/**
 * Third-party actions, pinned by full commit SHA (a tag can be moved; a SHA cannot). The version
 * is written beside each pin in the generated YAML. To update: resolve the new tag to its commit
 * (`git ls-remote https://github.com/<owner>/<repo> refs/tags/<tag>`) and change both fields.
 */
export interface PinnedAction {
  repo: string;
  sha: string;
  version: string;
}

export const CHECKOUT: PinnedAction = {
  repo: 'actions/checkout',
  sha: '08c6903cd8c0fde910a37f88322edcfb5dd907a8',
  version: 'v5.0.0',
};

export const SETUP_NODE: PinnedAction = {
  repo: 'actions/setup-node',
  sha: 'a0853c24544627f65ddf259abe73b1d18a591444',
  version: 'v5.0.0',
};

export const CONFIGURE_AWS_CREDENTIALS: PinnedAction = {
  repo: 'aws-actions/configure-aws-credentials',
  sha: 'a03048d87541d1d9fcf2ecf528a4a65ba9bd7838',
  version: 'v5.0.0',
};

/**
 * Uploads the perimeter spec's findings (SARIF) to code scanning. github/codeql-action's
 * refs/tags/v4.36.2 is an annotated tag (1a818fd5f97ed0ee9a823421bd5b171add01227f, 2026-06-04)
 * of commit 8aad20d150bbac5944a9f9d289da16a4b0d87c1e, the commit the moving v4 tag also named
 * (`git cat-file -p v4.36.2` on a mirror of the repository, checked 2026-12-02).
 */
export const CODEQL_UPLOAD_SARIF: PinnedAction = {
  repo: 'github/codeql-action/upload-sarif',
  sha: '8aad20d150bbac5944a9f9d289da16a4b0d87c1e',
  version: 'v4.36.2',
};

/** Keeps the spec's JUnit report with the run, for test-report viewers; hands the SARIF file to the upload job. */
export const UPLOAD_ARTIFACT: PinnedAction = {
  repo: 'actions/upload-artifact',
  sha: 'ea165f8d65b6e75b540449e92b4886f43607fa02',
  version: 'v4.6.2',
};

/**
 * Fetches the SARIF file in the code-scanning job, which checks nothing out and runs no code of
 * the pull request. v4.3.0 = commit d3f86a106a0bac45b974a628896c90dbdf5c8093
 * (`git rev-parse v4.3.0^{commit}` on a mirror of actions/download-artifact, 2026-12-02); the v4
 * line reads what upload-artifact v4 writes.
 */
export const DOWNLOAD_ARTIFACT: PinnedAction = {
  repo: 'actions/download-artifact',
  sha: 'd3f86a106a0bac45b974a628896c90dbdf5c8093',
  version: 'v4.3.0',
};

export const PINNED_ACTIONS = [
  CHECKOUT,
  SETUP_NODE,
  CONFIGURE_AWS_CREDENTIALS,
  CODEQL_UPLOAD_SARIF,
  UPLOAD_ARTIFACT,
  DOWNLOAD_ARTIFACT,
];

export function uses(a: PinnedAction): string {
  return `${a.repo}@${a.sha}`;
}
