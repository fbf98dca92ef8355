"""JupyterHub for a research group that logs in with its self-hosted GitLab (DockerSpawner)."""
import os

c = get_config()  # noqa: F821

c.JupyterHub.authenticator_class = "gitlab"

c.OAuthenticator.oauth_callback_url = "https://jupyter.example.org/hub/oauth_callback"
c.GitLabOAuthenticator.client_id = "4c1f9b0e7d3a2b6c8e5f1a0d9c7b3e2f4a6d8c0b1e3f5a7c9d2b4e6f8a0c1d3e"
c.GitLabOAuthenticator.client_secret = os.environ["GITLAB_CLIENT_SECRET"]
c.GitLabOAuthenticator.gitlab_url = "https://gitlab.example.org"
c.GitLabOAuthenticator.gitlab_api_version = 4
c.GitLabOAuthenticator.scope = ["read_user", "read_api"]
c.GitLabOAuthenticator.allowed_gitlab_groups = {"research", "teaching/ml-course"}
c.GitLabOAuthenticator.gitlab_project_id_whitelist = [4527, 918]
c.GitLabOAuthenticator.admin_users = {"ada"}
c.Authenticator.enable_auth_state = True
c.Authenticator.auth_refresh_age = 900

# --- spawner ---
c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.image = "quay.io/jupyter/scipy-notebook:2024-05-27"
c.DockerSpawner.network_name = "jupyterhub"
c.DockerSpawner.remove = True
c.Spawner.default_url = "/lab"
