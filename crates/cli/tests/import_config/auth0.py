"""The Littlest JupyterHub with Auth0 login (/opt/tljh/config/jupyterhub_config.d/auth0.py)."""
from oauthenticator.auth0 import Auth0OAuthenticator

c.JupyterHub.authenticator_class = Auth0OAuthenticator

c.Auth0OAuthenticator.auth0_subdomain = "example-lab"
c.Auth0OAuthenticator.client_id = "k3XQ0bV8nWc4YpR7sT2uA9dF6gH1jL5m"
c.Auth0OAuthenticator.client_secret = "auth0-client-secret-value"
c.Auth0OAuthenticator.oauth_callback_url = "https://hub.example.org/hub/oauth_callback"
c.Auth0OAuthenticator.scope = ["openid", "email", "profile"]
c.Auth0OAuthenticator.username_key = "email"
c.Auth0OAuthenticator.allowed_users = {"ada@example.org", "grace@example.org"}
c.Auth0OAuthenticator.admin_users = {"ada@example.org"}
c.Auth0OAuthenticator.logout_redirect_url = "https://example-lab.auth0.com/v2/logout?returnTo=https%3A%2F%2Fhub.example.org%2F"
