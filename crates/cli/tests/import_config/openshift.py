"""JupyterHub on OpenShift 4, logging in with the cluster's users (jupyterhub-quickstart style)."""
import os

c.JupyterHub.authenticator_class = "openshift"
c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"

c.OpenShiftOAuthenticator.openshift_url = "https://api.ocp.example.com:6443"
c.OpenShiftOAuthenticator.client_id = "system:serviceaccount:jupyter:jupyterhub"
c.OpenShiftOAuthenticator.client_secret = os.environ.get("OAUTH_CLIENT_SECRET")
c.OpenShiftOAuthenticator.oauth_callback_url = "https://jupyterhub-jupyter.apps.ocp.example.com/hub/oauth_callback"
c.OpenShiftOAuthenticator.scope = ['user:info']
c.OpenShiftOAuthenticator.manage_groups = True
c.OpenShiftOAuthenticator.allowed_groups = {"data-science", "ml-team"}
c.OpenShiftOAuthenticator.admin_groups = {"jupyterhub-admins"}
c.OpenShiftOAuthenticator.validate_cert = True
c.OpenShiftOAuthenticator.ca_certs = "/run/secrets/kubernetes.io/serviceaccount/ca.crt"

c.KubeSpawner.image = "image-registry.openshift-image-registry.svc:5000/jupyter/minimal-notebook:latest"
c.KubeSpawner.cpu_limit = 1.0
