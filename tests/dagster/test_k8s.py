"""The Kubernetes deployment files: the K8sRunLauncher settings of deploy/k8s/values.yaml are valid for
dagster-k8s's launcher (the Helm chart passes them through in snake case, adding the instance fields), and the
rewrite job's runs ask Kubernetes for a GPU. No cluster runs here: this checks the files, not a deployment."""

import re

import yaml
from dagster._config import process_config
from dagster_k8s import K8sRunLauncher
from dagster_k8s.job import get_user_defined_k8s_config

from curation_assets.definitions import defs
from tests.conftest import ROOT


def _snake(value):
    if isinstance(value, dict):
        return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower() if k[:1].islower() else k: _snake(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_snake(v) for v in value]
    return value


def test_values_file_configures_a_valid_k8s_run_launcher():
    values = yaml.safe_load((ROOT / "deploy/k8s/values.yaml").read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    cfg = _snake(values["runLauncher"]["config"]["k8sRunLauncher"])
    cfg["env_secrets"] = [s["name"] for s in cfg["env_secrets"]]  # the chart turns {name: x} into x
    cfg.update(instance_config_map="curation-dagster-instance", dagster_home="/opt/dagster/dagster_home",
               postgres_password_secret="curation-pg")
    result = process_config(K8sRunLauncher.config_type(), cfg)
    assert result.success, result.errors
    code = values["dagster-user-deployments"]["deployments"][0]
    assert code["dagsterApiGrpcArgs"] == ["-m", "curation_assets.definitions"]
    assert {e["name"] for e in code["env"]} >= {"CURATION_CRAWL_ROOT", "CURATION_OUTPUT", "CURATION_NUM_SHARDS"}


def test_rewrite_runs_ask_for_a_gpu():
    tags = defs.resolve_job_def("rewrite_shards").tags
    cfg = get_user_defined_k8s_config(tags)
    assert cfg.container_config["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "dagster-k8s/config" not in defs.resolve_job_def("curate_shards").tags
