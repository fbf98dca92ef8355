# jupyterhub_config.py: a research hub with several logins through MultiAuthenticator 0.4
# (github.com/idiap/multiauthenticator): collaborators through GitHub and the institute's
# GitLab, staff through the campus single sign-on, service accounts through PAM.
import os

from multiauthenticator import MultiAuthenticator
from oauthenticator.github import GitHubOAuthenticator

c = get_config()  # noqa

c.JupyterHub.authenticator_class = MultiAuthenticator
c.JupyterHub.bind_url = "http://127.0.0.1:8000"

hub = "https://hub.example.org"
sso = "https://sso.example.org/realms/campus/protocol/openid-connect"

c.MultiAuthenticator.authenticators = [
    {
        "authenticator_class": GitHubOAuthenticator,
        "url_prefix": "/github",
        "config": {
            "client_id": os.environ["GITHUB_CLIENT_ID"],
            "client_secret": os.environ["GITHUB_CLIENT_SECRET"],
            "oauth_callback_url": hub + "/hub/github/oauth_callback",
            "allowed_organizations": {"example-lab"},
            "scope": ["read:org"],
            "admin_users": {"octocat"},
        },
    },
    {
        "authenticator_class": "oauthenticator.gitlab.GitLabOAuthenticator",
        "url_prefix": "/GitLab",
        "config": {
            "client_id": "4f1d2e3c5b6a79808f1d2e3c5b6a79808f1d2e3c5b6a79808f1d2e3c5b6a7980",
            "client_secret": os.environ.get("LAB_GITLAB_SECRET", ""),
            "gitlab_url": "https://gitlab.example.org",
            "scope": ["read_user", "read_api"],
            "oauth_callback_url": hub + "/hub/GitLab/oauth_callback",
            "gitlab_group_whitelist": {"physics"},
        },
    },
    {
        "authenticator_class": "generic",
        "url_prefix": "/sso",
        "config": {
            "login_service": "Campus SSO",
            "client_id": "jupyterhub",
            "client_secret": "sso-s3cret-value",
            "oauth_callback_url": hub + "/hub/sso/oauth_callback",
            "authorize_url": sso + "/auth",
            "token_url": sso + "/token",
            "userdata_url": sso + "/userinfo",
            "scope": ["openid", "profile", "email"],
            "username_claim": "preferred_username",
            "claim_groups_key": lambda user_info: user_info["groups"],
            "allowed_users": {"ada", "grace"},
            "blocked_users": {"mallory"},
            "enable_auth_state": True,
        },
    },
    {
        "authenticator_class": "pam",
        "url_prefix": "/pam",
        "config": {"service_name": "Service accounts", "admin_users": {"root"}},
    },
    {
        "authenticator_class": "nativeauthenticator.NativeAuthenticator",
        "url_prefix": "/signup",
        "config": {"open_signup": True},
    },
]
c.MultiAuthenticator.admin_users = {"github:octocat"}

c.Authenticator.enable_auth_state = True
c.Spawner.default_url = "/lab"
