-- Rooms, who may enter them and who belongs to them, and every message. Times are Unix milliseconds (UTC).
CREATE TABLE rooms (
    room_id     TEXT    NOT NULL PRIMARY KEY,
    visibility  TEXT    NOT NULL,
    creator_id  TEXT,
    created_at  INTEGER NOT NULL,
    settings    TEXT,
    last_seq    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE invitations (
    room_id     TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    invited_by  TEXT,
    invited_at  INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX invitations_by_user ON invitations (user_id);

CREATE TABLE memberships (
    room_id     TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    joined_at   INTEGER NOT NULL,
    left_at     INTEGER,
    read_seq    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE messages (
    message_id   TEXT    NOT NULL PRIMARY KEY,
    room_id      TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    author_id    TEXT    NOT NULL,
    author_name  TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    text         TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    usage        TEXT,
    cancelled_by TEXT,
    regenerates  TEXT,
    error        TEXT
);
CREATE UNIQUE INDEX messages_by_room_seq ON messages (room_id, seq);
CREATE INDEX messages_by_state ON messages (state) WHERE state = 'generating';
CREATE INDEX messages_by_created ON messages (created_at);
