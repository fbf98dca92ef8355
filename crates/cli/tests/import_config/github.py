# jupyterhub_config.py: GitHub login for a research group's hub (VM, systemd).
import os

c = get_config()  # noqa

c.JupyterHub.authenticator_class = "github"
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"

c.GitHubOAuthenticator.oauth_callback_url = "https://hub.example.org/hub/oauth_callback"
c.GitHubOAuthenticator.client_id = os.environ["GITHUB_CLIENT_ID"]
c.GitHubOAuthenticator.client_secret = os.environ.get("GITHUB_CLIENT_SECRET", "")
c.GitHubOAuthenticator.github_url = os.environ.get("GITHUB_URL", "https://github.example.org")
c.GitHubOAuthenticator.scope = ["read:org", "user:email"]
c.GitHubOAuthenticator.github_organization_whitelist = {"research-lab", "research-lab:hub-users"}
c.GitHubOAuthenticator.populate_teams_in_auth_state = True
c.GitHubOAuthenticator.admin_users = {"octocat", "hubot"}
c.GitHubOAuthenticator.username_claim = lambda user_info: user_info["login"].lower()
c.Authenticator.enable_auth_state = True
c.Authenticator.auth_refresh_age = 900  # seconds

c.Spawner.default_url = "/lab"
c.SystemdSpawner.mem_limit = "4G"
