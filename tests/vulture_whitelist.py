# Names vulture cannot see used: typer commands, pydantic validators and fields, steps named in
# kfbootstrap/components.py by string, dataclass fields read through asdict/JSON, protocol methods
# (urllib redirect_request, __exit__, signal handlers), and helpers only the tests use.
# Regenerate with `vulture kfbootstrap --min-confidence 60 --make-whitelist`, then remove what is really dead.
secret_fields  # unused variable (kfbootstrap/access/creds.py:46)
grafana_creds  # creds readers, named by reference in kfbootstrap/components.py (Creds.reader)
kubeflow_creds
dashboard_redirects_to_dex  # smoke checks, named by reference in kfbootstrap/components.py (SmokeCheck.run)
dex_login
pipelines_healthz
pipelines_list
model_registry_list
object_store_list_buckets
grafana_health
prometheus_ready
run_tiny_pipeline
serves_a_model
mtime  # tarfile.TarInfo's field, set for a reproducible tar (kfbootstrap/serving/model_files.py)
ready_pods  # unused variable (kfbootstrap/access/forwards.py:143)
_global  # unused function (kfbootstrap/cli/app.py:29)
frame  # unused variable (kfbootstrap/cli/app.py:52)
prune  # unused function (kfbootstrap/cli/cache.py:62)
list_command  # unused function (kfbootstrap/cli/images.py:35)
pull_command  # unused function (kfbootstrap/cli/images.py:60)
model_config  # unused variable (kfbootstrap/config/sections.py)
_._name_is_dns_label  # unused method (kfbootstrap/config/sections.py)
_._kind_config_exists  # unused method (kfbootstrap/config/sections.py)
_._context_implies_existing  # unused method (kfbootstrap/config/sections.py)
_._one_password_source  # unused method (kfbootstrap/config/sections.py)
_._known_release  # unused method (kfbootstrap/config/sections.py)
_._path_exists  # unused method (kfbootstrap/config/sections.py)
_._is_ip  # unused method (kfbootstrap/config/schema.py)
_._valid_pool  # unused method (kfbootstrap/config/sections.py)
_._valid_registries  # unused method (kfbootstrap/config/sections.py)
_.retries  # unused attribute (kfbootstrap/kube/client.py:41)
_.connection_pool_maxsize  # unused attribute (kfbootstrap/kube/client.py:58)
access_key_key  # unused variable (kfbootstrap/kube/object_store.py:36)
secret_key_key  # unused variable (kfbootstrap/kube/object_store.py:37)
plan_phases  # used by the tests only: the apply engine plans per object with phase_of (kfbootstrap/kube/objects.py:146)
connections  # unused variable (kfbootstrap/kube/portforward.py:90)
active  # unused variable (kfbootstrap/kube/portforward.py:91)
last_pod  # unused variable (kfbootstrap/kube/portforward.py:93)
last_error_at  # unused variable (kfbootstrap/kube/portforward.py:95)
_.raiseExceptions  # unused attribute (kfbootstrap/logsetup.py:42)
exc_info  # unused variable (kfbootstrap/smoke/forwards.py:38)
_.max_redirects  # requests.Session settings (kfbootstrap/smoke/http.py)
_.trust_env
KServeStep  # unused class (kfbootstrap/steps/kserve.py:16)
KubeflowStep  # unused class (kfbootstrap/steps/kubeflow.py:88)
MetallbStep  # unused class (kfbootstrap/steps/metallb.py:83)
ModelRegistryStep  # unused class (kfbootstrap/steps/model_registry.py:32)
GrafanaStep  # unused class (kfbootstrap/steps/monitoring.py:31)
ObjectStoreStep  # unused class (kfbootstrap/steps/object_store.py:16)
_.caption  # unused attribute (kfbootstrap/steps/wait.py:110)
_.client_version  # unused method (kfbootstrap/tools/helm.py:100)
_.check_executable_exists  # unused method (kfbootstrap/tools/helm.py:107)
_._apps_list  # pydantic validator (kfbootstrap/config/sections.py)
_._apps_known  # pydantic validator (kfbootstrap/config/sections.py)
_._steps_follow_apps  # pydantic validator (kfbootstrap/config/schema.py)
_.kserve  # set by Config._steps_follow_apps, read through components.on()/enabled()
needs_markdown  # the docs' generated tables, made by tests/unit/test_apps_docs.py (kfbootstrap/apps/report.py)
docs_block  # likewise
catalog_namespace  # release fact (kfbootstrap/releases.py), read by tests and the docs' supported-releases table
poddefaults_webhook  # release fact (kfbootstrap/releases.py), read by tests
_.kubernetes  # release fact (kfbootstrap/releases.py): the tested node's Kubernetes, read by tests
_.date  # release fact (kfbootstrap/releases.py): read by the docs' supported-releases table test
_.on_broken_pipe  # rich calls it (kfbootstrap/ui.py, _Console)
_.quiet  # rich's Console reads it (kfbootstrap/ui.py, _Console.on_broken_pipe)
