# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flink's own client (``bin/kubernetes-session.sh``, ``bin/flink run --target kubernetes-application``) run on the
host that executes the module, with a configuration directory and a kubeconfig of its own.

``NativeClient`` is a mixin of the native-mode platforms: it needs ``self.native`` (NativeSpec), ``self.spec``,
``self.params``, ``self.api_client`` and ``flink_settings()``.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import FlinkVersion, parse_config_file, render
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes import lite


class NativeClient(object):
    """Runs Flink's client with the module's configuration."""

    def flink_home_check(self):
        home = self.native.flink_home
        script = os.path.join(home, "bin", "kubernetes-session.sh")
        if not os.path.isfile(script):
            raise SpecError("%s has no bin/kubernetes-session.sh" % home, option="flink_home",
                            hint="Give the directory of a Flink distribution (the Flink client runs on the host "
                                 "that runs the module)")
        dists = glob.glob(os.path.join(home, "lib", "flink-dist*.jar"))
        match = re.search(r"flink-dist[_0-9.a-z]*?-(\d+\.\d+(\.\d+)?)", os.path.basename(dists[0])) if dists else None
        if match and self.spec.version is not None and not self.spec.version.same_series(match.group(1)):
            raise SpecError("is Flink %s, the image is Flink %s" % (match.group(1), self.spec.version),
                            option="flink_home", hint="Use a Flink distribution of the image's version")
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise SpecError("no Java on the host that runs the module (Flink's client needs it)", option="flink_home",
                            hint="Install a JRE 11 or 17, or set JAVA_HOME")
        return match.group(1) if match else None

    def client_conf_dir(self, workdir):
        """A Flink configuration directory for the client: the distribution's defaults, the module's settings,
        the distribution's logging configuration (with log_level applied)."""
        home = self.native.flink_home
        conf_dir = os.path.join(workdir, "conf")
        version = self.spec.version or FlinkVersion("2.0")
        src = os.path.join(home, "conf")
        conf = self.client_config(conf_dir)
        for name in ("log4j-console.properties", "logback-console.xml"):
            path = os.path.join(src, name)
            if os.path.exists(path):
                with open(path) as handle:
                    text = handle.read()
                if name.startswith("log4j") and self.native.log_level:
                    text = set_root_level(text, self.native.log_level)
                with open(os.path.join(conf_dir, name), "w") as handle:
                    handle.write(text)
        template = self.client_pod_template()
        if template is not None:
            path = os.path.join(workdir, "pod-template.yaml")
            with open(path, "w") as handle:
                json.dump(template, handle)
            conf["kubernetes.pod-template-file.default"] = path
        with open(os.path.join(conf_dir, version.config_file), "w") as handle:
            handle.write(render(conf, version.standard_yaml))
        return conf_dir

    def client_config(self, conf_dir):
        """Create ``conf_dir`` and return the client's configuration: the distribution's defaults with the module's
        settings over them."""
        os.makedirs(conf_dir)
        conf = {}
        for name in ("config.yaml", "flink-conf.yaml"):
            path = os.path.join(self.native.flink_home, "conf", name)
            if os.path.exists(path):
                with open(path) as handle:
                    conf = parse_config_file(name, handle.read())
                break
        conf.update(self.flink_settings())
        return conf

    def check_memory_with_flink(self, timeout=120):
        """Flink's own memory calculation for JobManager and TaskManager (BashJavaUtils, which Flink's start
        scripts run in the pods before the JVM starts) with the client's distribution, of the image's version, and
        the client's configuration, before the cluster is touched: sizes or fractions Flink refuses would
        otherwise crash-loop the new pods after the old ones are gone. A valid verdict is cached, as on Docker."""
        home = self.native.flink_home
        settings = dict((k, v) for k, v in self.flink_settings().items() if k not in self.spec.secret_config)
        dists = sorted(glob.glob(os.path.join(home, "lib", "flink-dist*.jar")))
        utils = os.path.join(home, "bin", "bash-java-utils.jar")
        if not dists or not os.path.isfile(utils):
            return []  # a distribution without them cannot run Flink's start scripts either; the client says so
        java = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java"
        identity = "flink-home:%s:%s" % (os.path.realpath(dists[0]), os.path.getmtime(dists[0]))
        # Imported here: it brings the docker modules, which an unchanged run never needs.
        from ansible_collections.flinkops.flink.plugins.module_utils.docker import flink_validation  # pylint: disable=import-outside-toplevel
        checked = []
        workdir = tempfile.mkdtemp(prefix="flinkops-memcheck-")
        try:
            conf_dir = None
            for role in ("jobmanager", "taskmanager"):
                key = flink_validation.verdict_key(identity, role, settings)
                if os.path.exists(os.path.join(flink_validation.cache_dir(), key)):
                    continue
                if conf_dir is None:
                    conf_dir = os.path.join(workdir, "conf")
                    version = self.spec.version or FlinkVersion("2.0")
                    text = render(self.client_config(conf_dir), version.standard_yaml)  # creates conf_dir
                    with open(os.path.join(conf_dir, version.config_file), "w") as handle:
                        handle.write(text)
                cmd = [java, "-Xmx64m", "-cp", "%s:%s" % (utils, dists[0]),
                       "org.apache.flink.runtime.util.bash.BashJavaUtils", flink_validation.COMMANDS[role],
                       "--configDir", conf_dir]
                try:
                    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
                except (OSError, subprocess.TimeoutExpired) as exc:
                    raise BackendError("running Flink's memory check with %s failed: %s" % (home, exc),
                                       option="flink_home")
                flink_validation.judge(role, proc.stdout + proc.stderr, settings,
                                       "with the Flink client in %s" % home)
                flink_validation.remember(key)
                checked.append(role)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return checked

    def client_pod_template(self):
        """The pod template Flink's client is given (the user's pod_template)."""
        return self.native.pod_template

    def client_command(self, conf_dir, workdir):
        home = self.native.flink_home
        return [os.path.join(home, "bin", "kubernetes-session.sh")]

    def run_client(self, extra_args=(), timeout=600):
        """Run Flink's client with the module's configuration; returns its output."""
        workdir = tempfile.mkdtemp(prefix="flinkops-k8s-")
        try:
            conf_dir = self.client_conf_dir(workdir)
            kubeconfig, context = self.client_kubeconfig(workdir)
            cmd = self.client_command(conf_dir, workdir) + ["-Dkubernetes.config.file=%s" % kubeconfig]
            if context:
                cmd.append("-Dkubernetes.context=%s" % context)
            cmd.extend(extra_args)
            env = dict(os.environ, FLINK_HOME=self.native.flink_home, FLINK_CONF_DIR=conf_dir,
                       FLINK_LOG_DIR=os.path.join(workdir, "log"))
            os.makedirs(env["FLINK_LOG_DIR"])
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=workdir,
                                      check=False)
            except subprocess.TimeoutExpired:
                raise BackendError("Flink's client %s did not finish within %ds" % (cmd[0], timeout))
            if proc.returncode != 0:
                logs = ""
                for path in glob.glob(os.path.join(env["FLINK_LOG_DIR"], "*.log")):
                    with open(path, errors="replace") as handle:
                        logs += handle.read()[-3000:]
                raise BackendError("Flink's client failed (exit %d): %s" % (
                    proc.returncode, _client_error(proc.stdout + proc.stderr + logs)),
                    partial={"stdout": proc.stdout[-4000:], "stderr": proc.stderr[-4000:]})
            return proc.stdout
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def client_kubeconfig(self, workdir):
        """(path, context) of a kubeconfig for Flink's Java client, which reads only kubeconfig files.

        The user's file is used as it is, unless options override it (then an equivalent file is written)."""
        params = self.params
        explicit = any(params.get(k) is not None for k in
                       ("host", "api_key", "verify_ssl", "ssl_ca_cert", "cert_file", "key_file"))
        kubeconfig = params.get("kubeconfig") or lite.default_kubeconfig()
        if os.path.exists(kubeconfig) and not explicit:
            return kubeconfig, params.get("context")
        conf = self.api_client.configuration
        cluster = {"server": conf.host}
        if conf.ssl_ca_cert:
            cluster["certificate-authority"] = conf.ssl_ca_cert
        if not conf.verify_ssl:
            cluster["insecure-skip-tls-verify"] = True
        user = {}
        token = (conf.api_key or {}).get("authorization") or (conf.api_key or {}).get("BearerToken")
        if token:
            user["token"] = token.split(" ", 1)[1] if token.startswith("Bearer ") else token
        if conf.cert_file:
            user["client-certificate"] = conf.cert_file
        if conf.key_file:
            user["client-key"] = conf.key_file
        data = {"apiVersion": "v1", "kind": "Config", "current-context": "flinkops",
                "clusters": [{"name": "flinkops", "cluster": cluster}],
                "users": [{"name": "flinkops", "user": user}],
                "contexts": [{"name": "flinkops", "context": {"cluster": "flinkops", "user": "flinkops"}}]}
        path = os.path.join(workdir, "kubeconfig")
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            json.dump(data, handle)  # JSON is YAML
        return path, "flinkops"


def set_root_level(text, level):
    """log4j2 properties with the root logger's level set to ``level``."""
    lines = text.splitlines()
    out = []
    done = False
    for line in lines:
        if re.match(r"^\s*rootLogger\.level\s*=", line):
            out.append("rootLogger.level = %s" % level)
            done = True
        else:
            out.append(line)
    if not done:
        out.append("rootLogger.level = %s" % level)
    return "\n".join(out) + "\n"


def _client_error(text):
    """The most telling line of the Flink client's output."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith("Caused by:")]
    errors = [line for line in lines if "Exception" in line or "ERROR" in line]
    if causes:
        return causes[-1][len("Caused by:"):].strip()
    if errors:
        return errors[0]
    return lines[-1] if lines else "no output"
