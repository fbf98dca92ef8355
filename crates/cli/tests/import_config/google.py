"""JupyterHub for a university department: Google Workspace sign-in, groups from the Admin SDK."""
import os
from oauthenticator.google import GoogleOAuthenticator

c = get_config()  # noqa

c.JupyterHub.authenticator_class = "google"
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"

c.GoogleOAuthenticator.oauth_callback_url = "https://jupyter.example.edu/hub/oauth_callback"
c.GoogleOAuthenticator.client_id = "123456789012-abcdefghijklmnopqrstuv0123456789.apps.googleusercontent.com"
c.GoogleOAuthenticator.client_secret = "GOCSPX-AbCdEfGhIjKlMnOpQrStUvWxYz12"
c.GoogleOAuthenticator.login_service = "Example University"
c.GoogleOAuthenticator.hosted_domain = os.environ["HOSTED_DOMAIN"]
c.GoogleOAuthenticator.google_service_account_keys = {
    "example.edu": "/etc/jupyterhub/google-service-account.json",
}
c.GoogleOAuthenticator.gsuite_administrator = {'example.edu': 'jupyterhub-groups'}
# Written for oauthenticator 0.11, never renamed.
c.GoogleOAuthenticator.google_group_whitelist = {'example.edu': {'jupyterhub-users', 'data-science'}}
c.GoogleOAuthenticator.admin_google_groups = {'example.edu': ['jupyterhub-admins']}
c.GoogleOAuthenticator.include_nested_groups = True
c.GoogleOAuthenticator.blocked_users = {'former-ta'}
c.OAuthenticator.extra_authorize_params = {'access_type': 'offline', 'approval_prompt': 'force'}
c.Authenticator.enable_auth_state = True
c.Authenticator.auth_refresh_age = 3600

c.JupyterHub.spawner_class = 'dockerspawner.DockerSpawner'
c.DockerSpawner.image = 'quay.io/jupyter/scipy-notebook:2024-05-27'
c.Spawner.default_url = '/lab'
