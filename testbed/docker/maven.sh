#!/usr/bin/env bash
# Fetch jars from Maven Central (source it after testbed/lib.sh).
#
#   maven_fetch_nearest GROUP ARTIFACT CLASSIFIER VERSION OUTDIR   -> prints the file name it saved
#
# Maven Central as reached from the test bed lacks some releases and some parent POMs (e.g. the S3
# plugin and the examples of Flink 1.20.5 / 2.2.1 are missing; flink-examples-streaming 2.3.0 is
# there but its parent POM is not, so `mvn dependency:copy/get` cannot resolve it). So this reads
# the artifact's maven-metadata.xml, picks the nearest available version and downloads the jar
# from the repository Maven is configured with, checking its SHA-1. Choice of version: exact;
# else the newest patch <= VERSION of the same minor; else the newest <= VERSION of the same
# major; else the oldest > VERSION of the same major. See docs/testbed-docker.md.
# The repository is $MAVEN_REPO_URL, by default the `central` URL of the installed Maven's super
# POM (so no host name is written here).

maven_repo_url() {
  if [ -n "${MAVEN_REPO_URL:-}" ]; then printf '%s\n' "${MAVEN_REPO_URL%/}"; return 0; fi
  command -v mvn >/dev/null 2>&1 || apt_install maven
  local home jar url
  home="$(dirname "$(dirname "$(readlink -f "$(command -v mvn)")")")"
  jar="$(find "$home/lib" -maxdepth 1 -name 'maven-model-builder*.jar' | head -n1)"
  [ -n "$jar" ] || die "cannot find maven-model-builder in $home/lib (set MAVEN_REPO_URL)"
  url="$(python3 -c 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())' \
      "$jar" org/apache/maven/model/pom-4.0.0.xml 2>/dev/null \
    | tr -d '\n' | grep -o '<repository>[[:space:]]*<id>central</id>.*</repository>' \
    | grep -o '<url>[^<]*</url>' | head -n1 | sed 's/<[^>]*>//g')"
  [ -n "$url" ] || die "cannot read the central repository URL from Maven's super POM (set MAVEN_REPO_URL)"
  printf '%s\n' "${url%/}"
}

# Pick a version from a list (stdin, one per line) for wanted version $1; see above.
maven_pick_version() {
  python3 -c '
import sys
want = sys.argv[1]
def key(v):
    try:
        return tuple(int(x) for x in v.split("."))
    except ValueError:
        return None
w = key(want)
vs = sorted({k: v for v in sys.stdin.read().split() if (k := key(v)) is not None}.items())
if want in [v for _, v in vs]:
    print(want); sys.exit(0)
same_minor = [v for k, v in vs if k[:2] == w[:2] and k <= w]
same_major_older = [v for k, v in vs if k[:1] == w[:1] and k <= w]
same_major_newer = [v for k, v in vs if k[:1] == w[:1] and k > w]
for cands, pick in ((same_minor, -1), (same_major_older, -1), (same_major_newer, 0)):
    if cands:
        print(cands[pick]); sys.exit(0)
sys.exit(1)
' "$1"
}

maven_fetch_nearest() { # groupId artifactId classifier version outdir -> file name
  local g="$1" a="$2" c="$3" v="$4" out="$5" repo base meta pick file sha
  command -v curl >/dev/null 2>&1 || apt_install curl
  repo="$(maven_repo_url)"
  base="$repo/${g//.//}/$a"
  meta="$(curl -fsSL --retry 3 "$base/maven-metadata.xml")" || { log "  no metadata for $g:$a"; return 1; }
  pick="$(printf '%s\n' "$meta" | grep -o '<version>[^<]*</version>' | sed 's/<[^>]*>//g' \
    | maven_pick_version "$v")" || { log "  no version of $g:$a near $v"; return 1; }
  file="$a-$pick${c:+-$c}.jar"
  mkdir -p "$out"
  if ! curl -fsSL --retry 3 -o "$out/$file.part" "$base/$pick/$file"; then
    rm -f "$out/$file.part"; log "  $g:$a:$pick${c:+:$c}: download failed"; return 1
  fi
  sha="$(curl -fsSL --retry 3 "$base/$pick/$file.sha1" | cut -c1-40)" || sha=""
  if [ -n "$sha" ] && [ "$(sha1sum "$out/$file.part" | cut -c1-40)" != "$sha" ]; then
    rm -f "$out/$file.part"; log "  $g:$a:$pick${c:+:$c}: SHA-1 mismatch"; return 1
  fi
  mv "$out/$file.part" "$out/$file"
  printf '%s\n' "$file"
}
