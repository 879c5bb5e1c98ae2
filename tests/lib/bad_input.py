"""The bad-input catalogue: values a user gets wrong, each with the option its error must name and words it must
say. One list for every platform of the Docker engine (docker, swarm, compose); each platform's test runs its cases
as the tasks of one playbook (one ansible-playbook start, ignore_errors) against a running cluster, then asserts
every case failed with its option and words and that the cluster is exactly as before.

A case: (id, overrides of the platform's session task, option, words, platforms). ``option`` None means Ansible's
own argument check refuses the value (its message names the argument, not ``option:``)."""

from __future__ import annotations

ALL = ("docker", "swarm", "compose")

CASES = [
    # Names and ids
    ("name not DNS-1123", {"name": "Orders_DB"}, "name", "DNS-1123", ALL),
    ("name too long", {"name": "a" * 46}, "name", "45", ALL),
    # Sizes: the module's parser, then Flink's own memory model (BashJavaUtils in the image)
    ("unparsable memory", {"taskmanager": {"memory": "plenty"}}, "taskmanager.memory", "1600m", ALL),
    ("fractional memory", {"jobmanager": {"memory": "1.5g"}}, "jobmanager.memory", "1600m", ALL),
    ("TaskManager below Flink's minimum", {"taskmanager": {"memory": "600m"}}, "taskmanager.memory",
     "Flink refuses the taskmanager's memory settings", ALL),
    ("JobManager below Flink's minimum", {"jobmanager": {"memory": "200m"}}, "jobmanager.memory",
     "Flink refuses the jobmanager's memory settings", ALL),
    ("managed fraction above 1", {"flink_config": {"taskmanager.memory.managed.fraction": 1.5}},
     "flink_config.taskmanager.memory.managed.fraction", "Inconsistently configured", ALL),
    ("network min above max", {"flink_config": {"taskmanager.memory.network.min": "512m",
                                                "taskmanager.memory.network.max": "64m"}},
     "taskmanager.memory", "Flink refuses the taskmanager's memory settings", ALL),
    ("fraction that is no number", {"flink_config": {"taskmanager.memory.jvm-overhead.fraction": "lots"}},
     "flink_config.taskmanager.memory.jvm-overhead.fraction", "Could not parse value 'lots'", ALL),
    ("off-heap larger than the process", {"flink_config": {"taskmanager.memory.task.off-heap.size": "5g"}},
     "taskmanager.memory", "Sum of configured", ALL),
    ("metaspace larger than the JobManager", {"flink_config": {"jobmanager.memory.jvm-metaspace.size": "2g"}},
     "jobmanager.memory", "JVM Metaspace", ALL),
    ("negative memory size in flink_config", {"flink_config": {"taskmanager.memory.framework.heap.size": "-1m"}},
     "flink_config.taskmanager.memory.framework.heap.size", "Cannot read memory size", ALL),
    # Counts and types
    ("zero slots", {"taskmanager": {"slots": 0}}, "taskmanager.slots", "at least 1", ALL),
    ("negative taskmanagers", {"taskmanager": {"replicas": -2}}, "taskmanager.replicas", "0 or more", ALL),
    ("replicas not a number", {"taskmanager": {"replicas": "three"}}, None, "replicas", ALL),
    ("zero cpu", {"jobmanager": {"cpu": 0}}, "jobmanager.cpu", "", ALL),
    ("flink_config not a dict", {"flink_config": ["rest.port", 8082]}, None, "flink_config", ALL),
    # Ports
    ("REST port out of range", {"rest_port": 70000}, "rest_port", "", ALL),
    ("Flink's RPC port on the REST port", {"flink_config": {"jobmanager.rpc.port": 8081}},
     "flink_config.jobmanager.rpc.port", "both port 8081", ALL),
    ("two TaskManager ports the same", {"flink_config": {"taskmanager.rpc.port": 6122, "taskmanager.data.port": 6122}},
     "flink_config.taskmanager.data.port", "both port 6122", ALL),
    ("port that is no number", {"flink_config": {"rest.port": "http"}}, "flink_config.rest.port", "not a port", ALL),
    ("empty port range", {"flink_config": {"blob.server.port": "6200-6100"}}, "flink_config.blob.server.port",
     "empty range", ALL),
    ("port range where one port goes", {"flink_config": {"jobmanager.rpc.port": "6123-6130"}},
     "flink_config.jobmanager.rpc.port", "not a port", ALL),
    # Paths
    ("relative bind mount", {"mounts": [{"source": "data", "target": "/data"}]}, "mounts[0].source",
     "absolute path", ALL),
    ("volume name that is a path", {"mounts": [{"type": "volume", "source": "/srv/vol", "target": "/data"}]},
     "mounts[0].source", "not a volume name", ALL),
    ("mount target twice", {"mounts": [{"source": "/tmp", "target": "/data"},
                                       {"source": "/var/tmp", "target": "/data/"}]},
     "mounts[1].target", "also the target", ALL),
    ("relative mount target", {"mounts": [{"source": "/tmp", "target": "data"}]}, "mounts[0].target", "absolute", ALL),
    ("mount without a source", {"mounts": [{"type": "volume", "target": "/data"}]}, "mounts[0].source",
     "source is required", ALL),
    ("relative conf_dir", {"conf_dir": "conf"}, "conf_dir", "absolute path", ("docker",)),
    # Keys: duplicate, conflicting, removed
    ("key removed in Flink 2", {"flink_config": {"taskmanager.heap.size": "1g"}},
     "flink_config.taskmanager.heap.size", "removed in Flink 2.0", ALL),
    ("slots in flink_config and taskmanager.slots", {"flink_config": {"taskmanager.numberOfTaskSlots": 4}},
     "flink_config.taskmanager.numberOfTaskSlots", "taskmanager.slots", ALL),
    ("memory in flink_config", {"flink_config": {"taskmanager.memory.process.size": "2g"}},
     "flink_config.taskmanager.memory.process.size", "taskmanager.memory", ALL),
    ("key that is no key", {"flink_config": {"rest port": 8081}}, "flink_config", "not a valid configuration key", ALL),
    ("key in flink_config and its secrets", {"flink_config": {"execution.checkpointing.interval": "10s"},
                                             "flink_config_secrets": {"execution.checkpointing.interval": "5s"}},
     "flink_config_secrets", "in both", ALL),
    ("JVM options twice", {"java_opts": "-Da=1", "flink_config": {"env.java.opts.taskmanager": "-Db=2"}},
     "flink_config.env.java.opts.taskmanager", "taskmanager.java_opts", ALL),
    # Environment and labels
    ("managed environment variable", {"env": {"FLINK_PROPERTIES": "a: b"}}, "env.FLINK_PROPERTIES", "flink_config",
     ALL),
    ("jemalloc through env", {"env": {"DISABLE_JEMALLOC": "true"}}, "env.DISABLE_JEMALLOC", "jemalloc", ALL),
    ("environment variable name", {"env": {"1BAD": "x"}}, "env", "not a valid environment variable name", ALL),
    ("reserved label", {"labels": {"org.flinkops.cluster": "x"}}, "labels", "", ALL),
    # Versions, images, plugins
    ("version that contradicts the image", {"flink_version": "1.20.5"}, "flink_version",
     "conflicts with the image tag", ALL),
    ("image that does not exist", {"image": "flinkops/flink-missing:2.2.1-java17"}, "image", "", ALL),
    ("plugin the image lacks", {"plugins": ["flink-nonexistent-fs"]}, "plugins[0]", "Choose one of", ALL),
    ("plugin given as a path", {"plugins": ["opt/flink-s3-fs-hadoop"]}, "plugins[0]", "not a plugin name", ALL),
    # Platform
    ("a Kubernetes option", {"namespace": "flink"}, "namespace", "platform kubernetes", ALL),
    ("swarm without a published REST port", {"rest_port": None}, "rest_port", "published REST port", ("swarm",)),
    ("swarm REST port in ingress mode", {"publish_mode": "ingress"}, "publish_mode", "host mode", ("swarm",)),
    ("conf_dir on a swarm", {"conf_dir": "/etc/flink"}, "conf_dir", "flink_config", ("swarm",)),
    ("relative project_dir", {"project_dir": "relative/dir"}, "project_dir", "absolute path", ("compose",)),
    ("external network that does not exist", {"network": "flinkops-no-such-network"}, "network", "does not exist",
     ("compose",)),
    ("a swarm option on compose", {"endpoint_mode": "dnsrr"}, "endpoint_mode", "platform swarm only", ("compose",)),
]


def cases(platform):
    return [case for case in CASES if platform in case[4]]


def with_overrides(args, overrides):
    """A copy of a module's arguments with a case's overrides (dicts of dicts merged one level deep)."""
    merged = dict(args)
    for key, value in overrides.items():
        replaced = key in ("flink_config", "env", "labels")
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and not replaced:
            merged[key] = dict(merged[key], **value)
        else:
            merged[key] = value
    return merged


def catalogue_tasks(module, args, platform):
    """One task per case of ``platform``, named by the case id, each allowed to fail."""
    return [{"name": case_id, "ignore_errors": True, module: with_overrides(args, overrides)}
            for case_id, overrides, _option, _words, _platforms in cases(platform)]


def problems(result, platform):
    """What is wrong with a catalogue run's results: cases that did not fail, or failed without naming the option
    or without the words. [] when every case is right."""
    found = []
    for case_id, _overrides, option, words, _platforms in cases(platform):
        out = result.task(case_id)
        msg = str(out.get("msg", ""))
        if result.status(case_id) not in ("failed", "ignored"):
            found.append("%s: did not fail (%s)" % (case_id, out.get("actions")))
        elif option is not None and not msg.startswith(option + ":"):
            found.append("%s: the message does not start with %r: %s" % (case_id, option + ":", msg[:300]))
        elif words not in msg:
            found.append("%s: %r not in the message: %s" % (case_id, words, msg[:300]))
    return found
