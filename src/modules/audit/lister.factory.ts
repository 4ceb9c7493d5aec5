/**
 * Chooses the SiteLister for a site by its storage URL's scheme: file:// → LocalLister,
 * ssh:// → SshLister (with the site's sshIdentity and sshOptions), root:// → XrootdLister.
 */
import type { ListerFactory, SiteLister, SiteStorage } from './audit.ports.js';
import { LocalLister } from './local.lister.js';
import { SshLister, type SshListerOptions } from './ssh.lister.js';
import { parseStorageUrl } from './storage-url.parser.js';
import { XrootdLister, type XrootdListerOptions } from './xrootd.lister.js';

export interface ListerFactoryOptions {
  /** Programs and defaults for ssh sites (a site's own sshOptions come first and win). */
  ssh?: Omit<SshListerOptions, 'identity'>;
  xrootd?: XrootdListerOptions;
}

export class DefaultListerFactory implements ListerFactory {
  constructor(private readonly options: ListerFactoryOptions = {}) {}

  /** Throws InputError AUDIT_BAD_STORAGE (or AUDIT_BAD_SSH_OPTION) for a bad site; does not connect. */
  create(site: SiteStorage): SiteLister {
    const location = parseStorageUrl(site.storage);
    switch (location.scheme) {
      case 'file':
        return new LocalLister(site.storage);
      case 'ssh':
        return new SshLister(site.storage, {
          ...this.options.ssh,
          sshOptions: [...(site.sshOptions ?? []), ...(this.options.ssh?.sshOptions ?? [])],
          ...(site.sshIdentity === undefined ? {} : { identity: site.sshIdentity }),
        });
      case 'root':
        return new XrootdLister(site.storage, this.options.xrootd);
    }
  }
}
