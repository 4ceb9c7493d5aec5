/** The commented example printed by `custodian init`. It must stay valid (a test loads it). */
export const INIT_TEMPLATE = `# Custodian configuration. Relative paths are relative to this file's folder.
# Values may reference the environment: \${NAME}, \${NAME:-default}, or a file: \${file:./secret}.

# Embedded SQLite (default) or PostgreSQL for many worker machines:
#   database: postgres://custodian@db.example.org:5432/custodian
database: sqlite:./custodian.db

server:
  host: 127.0.0.1        # listen address; 0.0.0.0 to serve other machines
  port: 8080             # --port overrides
  publicRead: true       # reads need no login; every write needs operator or admin

# Where alerts go besides the log and the dashboard. Remove what you do not use.
# alerts:
#   email: { url: smtp://localhost:25, from: custodian@example.org, to: [ops@example.org] }
#   webhook: { url: https://example.org/hook }
#   reminderMinutes: 60  # a repeating failure is re-sent at most this often

logging:
  level: info            # fatal, error, warn, info, debug, trace, silent

# Organizes histogram files pushed by an online system (HLT/DQM) into Run<run>/<SYS>/ trees.
ingest:
  dropDir: ./incoming    # where files arrive
  dataDir: ./data        # the organized tree
  subsystems: [EMC, HLT, TPC]
  timezone: Europe/Zurich  # zone of the times in file names
  replayModes: [E]       # runs in these modes go under ReplayData/
  settleSeconds: 5       # files younger than this are still being written
  intervalSeconds: 60    # pause between passes of "ingest watch"
  killFile: ./stop-ingest  # "ingest watch" stops when this file exists

# Moves raw data from the observatory to the data centre: rsync, verify checksums, publish
# read-only, catch up late files, archive each night. Remove the section if you do not use it.
# transfer:
#   intervalSeconds: 60
#   timezone: America/Phoenix   # a night is the local date 12 hours before (YYYYMMDD)
#   catchupHour: 14             # UTC hour after which yesterday's night is re-synced once
#   archiveHour: 20             # UTC hour after which yesterday's night is archived once
#   killFile: ./stop-transfer
#   streams:
#     - name: desi_spectro_data
#       source: ssh://desi@observatory.example.org:22/exposures   # or a local path
#       sshIdentity: ./keys/id_ed25519
#       sshOptions: [UserKnownHostsFile=./keys/known_hosts]
#       pauseFile: checksum-running   # at the source: skip the pass while it exists
#       staging: ./staging
#       destination: ./spectro/data
#       archive: ./archive
#       checksumFile: checksum-{exposure}.sha256sum

# Checks storage sites against the catalog: missing files, orphans (dark data), empty directories.
# audit:
#   ignoreAgeDays: 5              # files younger than this on either side are never reported
#   ignorePatterns: [/store/unmerged/, /store/temp/]   # orphans and empty dirs containing these are not reported
#   maxMissing: 10000             # above either threshold: report, alert, but mark nothing for action
#   maxOrphans: 10000
#   reportsDir: ./audit-reports   # listings and report files, per site and run
#   intervalSeconds: 600          # the scheduler audits one site per pass
#   killFile: ./stop-audit
#   sites:
#     - name: T2_TEST
#       storage: root://xrootd.example.org:1094//store   # or file:///srv/store, ssh://user@host:port/srv/store
#       directories: [mc, data]    # top-level directories to check
#       concurrency: 8
#       retries: 2
#       timeoutSeconds: 300        # per directory listing
#       inventory: ./inventory/T2_TEST.tsv   # a dump file, or "catalog" for the ingest module's records
`;
