"""The GraphQL query ids X accepts for Space lookups, and the feature flags each requires
(x-spaces.md 1.3). An unknown id is answered 404; a missing required flag 400 with code 336."""

from __future__ import annotations

FEATURES_10 = (
    "dont_mention_me_view_api_enabled",
    "interactive_text_enabled",
    "responsive_web_edit_tweet_api_enabled",
    "responsive_web_enhance_cards_enabled",
    "responsive_web_uc_gql_enabled",
    "spaces_2022_h2_clipping",
    "spaces_2022_h2_spaces_communities",
    "standardized_nudges_misinfo",
    "tweet_with_visibility_results_prefer_gql_limited_actions_policy_enabled",
    "vibe_api_enabled",
)
FEATURES_21 = (
    "spaces_2022_h2_clipping",
    "spaces_2022_h2_spaces_communities",
    "responsive_web_graphql_exclude_directive_enabled",
    "verified_phone_label_enabled",
    "creator_subscriptions_tweet_preview_api_enabled",
    "responsive_web_graphql_skip_user_profile_image_extensions_enabled",
    "tweetypie_unmention_optimization_enabled",
    "responsive_web_edit_tweet_api_enabled",
    "graphql_is_translatable_rweb_tweet_is_translatable_enabled",
    "view_counts_everywhere_api_enabled",
    "longform_notetweets_consumption_enabled",
    "responsive_web_twitter_article_tweet_consumption_enabled",
    "tweet_awards_web_tipping_enabled",
    "freedom_of_speech_not_reach_fetch_enabled",
    "standardized_nudges_misinfo",
    "tweet_with_visibility_results_prefer_gql_limited_actions_policy_enabled",
    "responsive_web_graphql_timeline_navigation_enabled",
    "longform_notetweets_rich_text_read_enabled",
    "longform_notetweets_inline_media_enabled",
    "responsive_web_media_download_video_enabled",
    "responsive_web_enhance_cards_enabled",
)

AUDIO_SPACE_BY_ID = "AudioSpaceById"
AUDIOSPACE_BY_REST_ID = "AudiospaceByRestId"

# query id -> (operation, feature flags it requires)
QUERY_IDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "HPEisOmj1epUNLCWTYhUWw": (AUDIO_SPACE_BY_ID, FEATURES_10),
    "xVEzTKg_mLTHubK5ayL0HA": (AUDIO_SPACE_BY_ID, FEATURES_21),
    "kZ9wfR8EBtiP0As3sFFrBA": (AUDIO_SPACE_BY_ID, FEATURES_21),
    "Uv5R_-Chxbn1FEkyUkSW2w": (AUDIO_SPACE_BY_ID, ()),
    "rC2zlE1t7SHbVG8obPZliQ": (AUDIO_SPACE_BY_ID, ()),
    "jyQ0_DEMZHeoluCgHJ-U5Q": (AUDIO_SPACE_BY_ID, ()),
    "N80MQ7fkrpuq1-kCWVSvzQ": (AUDIOSPACE_BY_REST_ID, ()),
}
# What the simulator's own Space page sends, as X's web client does.
PAGE_QUERY_ID = "xVEzTKg_mLTHubK5ayL0HA"


def missing_features(query_id: str, features: dict[str, object]) -> list[str]:
    _, required = QUERY_IDS[query_id]
    return [f for f in required if features.get(f) is None]
