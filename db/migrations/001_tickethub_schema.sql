-- TicketHub core schema: the ten tables the app works with.
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TYPE public.admin_role AS ENUM ('super_admin', 'admin', 'staff');
CREATE TYPE public.receipt_status AS ENUM ('pending', 'approved', 'rejected');
CREATE TYPE public.ticket_status AS ENUM ('valid', 'used', 'cancelled');
CREATE TYPE public.trip_status AS ENUM ('scheduled', 'boarding', 'departed', 'arrived', 'cancelled');

CREATE TABLE public.admin_users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL,
  full_name text NOT NULL,
  role public.admin_role NOT NULL DEFAULT 'staff',
  password_hash text NOT NULL,
  is_active boolean NOT NULL DEFAULT true,
  last_sign_in_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT admin_users_email_format CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
  CONSTRAINT admin_users_full_name_nonempty CHECK (length(btrim(full_name)) > 0)
);
CREATE UNIQUE INDEX admin_users_email_key ON public.admin_users (lower(email));
COMMENT ON TABLE public.admin_users IS 'Staff who sign in to the admin web app';

CREATE TABLE public.telegram_users (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  telegram_id bigint NOT NULL UNIQUE,
  username text,
  first_name text NOT NULL,
  last_name text,
  phone text,
  language_code text NOT NULL DEFAULT 'am',
  is_blocked boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT telegram_users_language_check CHECK (language_code IN ('am', 'en')),
  CONSTRAINT telegram_users_phone_check CHECK (phone IS NULL OR phone ~ '^\+?[0-9]{9,15}$')
);
CREATE INDEX telegram_users_username_idx ON public.telegram_users (username);
COMMENT ON TABLE public.telegram_users IS 'Customers who buy tickets through the Telegram bot';

CREATE TABLE public.trips (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  origin text NOT NULL,
  destination text NOT NULL,
  departure_at timestamptz NOT NULL,
  arrival_at timestamptz,
  vehicle_plate text NOT NULL,
  total_seats integer NOT NULL,
  price_etb numeric(10,2) NOT NULL,
  status public.trip_status NOT NULL DEFAULT 'scheduled',
  created_by uuid REFERENCES public.admin_users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT trips_distinct_places CHECK (origin <> destination),
  CONSTRAINT trips_seats_check CHECK (total_seats BETWEEN 1 AND 100),
  CONSTRAINT trips_price_check CHECK (price_etb > 0),
  CONSTRAINT trips_arrival_after_departure CHECK (arrival_at IS NULL OR arrival_at > departure_at)
);
CREATE INDEX trips_departure_idx ON public.trips (departure_at);
CREATE INDEX trips_route_idx ON public.trips (origin, destination);

CREATE TABLE public.receipts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  telegram_user_id bigint NOT NULL REFERENCES public.telegram_users (id) ON DELETE RESTRICT,
  trip_id bigint NOT NULL REFERENCES public.trips (id) ON DELETE RESTRICT,
  amount_etb numeric(10,2) NOT NULL,
  seats integer NOT NULL DEFAULT 1,
  payment_method text NOT NULL,
  payment_reference text NOT NULL,
  status public.receipt_status NOT NULL DEFAULT 'pending',
  reviewed_by uuid REFERENCES public.admin_users (id) ON DELETE SET NULL,
  reviewed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT receipts_amount_check CHECK (amount_etb > 0),
  CONSTRAINT receipts_seats_check CHECK (seats BETWEEN 1 AND 10),
  CONSTRAINT receipts_method_check CHECK (payment_method IN ('telebirr', 'cbe', 'cbe_birr', 'awash', 'dashen', 'abyssinia', 'cash')),
  CONSTRAINT receipts_reference_unique UNIQUE (payment_method, payment_reference),
  CONSTRAINT receipts_review_consistent CHECK ((status = 'pending') = (reviewed_at IS NULL))
);
CREATE INDEX receipts_status_idx ON public.receipts (status, created_at DESC);
CREATE INDEX receipts_trip_idx ON public.receipts (trip_id);
CREATE INDEX receipts_user_idx ON public.receipts (telegram_user_id);

CREATE TABLE public.tickets (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  receipt_id bigint NOT NULL REFERENCES public.receipts (id) ON DELETE CASCADE,
  trip_id bigint NOT NULL REFERENCES public.trips (id) ON DELETE RESTRICT,
  telegram_user_id bigint NOT NULL REFERENCES public.telegram_users (id) ON DELETE RESTRICT,
  seat_number integer NOT NULL,
  passenger_name text NOT NULL,
  ticket_code text NOT NULL UNIQUE,
  status public.ticket_status NOT NULL DEFAULT 'valid',
  issued_at timestamptz NOT NULL DEFAULT now(),
  used_at timestamptz,
  CONSTRAINT tickets_seat_check CHECK (seat_number >= 1),
  CONSTRAINT tickets_code_format CHECK (ticket_code ~ '^TH-[0-9A-Z]{8,}$')
);
CREATE UNIQUE INDEX tickets_trip_seat_active ON public.tickets (trip_id, seat_number) WHERE status <> 'cancelled';
CREATE INDEX tickets_user_idx ON public.tickets (telegram_user_id);
CREATE INDEX tickets_receipt_idx ON public.tickets (receipt_id);

CREATE TABLE public.activity_logs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  action text NOT NULL,
  entity_type text NOT NULL,
  entity_id text,
  description text NOT NULL DEFAULT '',
  ip_address text,
  user_agent text,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  admin_user_id uuid REFERENCES public.admin_users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT activity_logs_action_check CHECK (action ~ '^[A-Z][A-Z_]*$')
);
CREATE INDEX activity_logs_created_idx ON public.activity_logs (created_at DESC);
CREATE INDEX activity_logs_action_idx ON public.activity_logs (action, created_at DESC);
COMMENT ON TABLE public.activity_logs IS 'Audit trail: who did what, when';

CREATE TABLE public.approvals (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  receipt_id bigint NOT NULL REFERENCES public.receipts (id) ON DELETE CASCADE,
  admin_user_id uuid REFERENCES public.admin_users (id) ON DELETE SET NULL,
  decision public.receipt_status NOT NULL,
  reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT approvals_decision_check CHECK (decision <> 'pending'),
  CONSTRAINT approvals_reason_on_reject CHECK (decision <> 'rejected' OR reason IS NOT NULL)
);
CREATE INDEX approvals_receipt_idx ON public.approvals (receipt_id);

CREATE TABLE public.invitations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL,
  role public.admin_role NOT NULL DEFAULT 'staff',
  token_hash text NOT NULL UNIQUE,
  invited_by uuid REFERENCES public.admin_users (id) ON DELETE SET NULL,
  expires_at timestamptz NOT NULL,
  accepted_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT invitations_expiry_check CHECK (expires_at > created_at)
);

CREATE TABLE public.telegram_channels (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  chat_id bigint NOT NULL UNIQUE,
  title text NOT NULL,
  chat_type text NOT NULL,
  purpose text NOT NULL DEFAULT 'announcements',
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT telegram_channels_type_check CHECK (chat_type IN ('group', 'supergroup', 'channel')),
  CONSTRAINT telegram_channels_purpose_check CHECK (purpose IN ('announcements', 'staff_alerts', 'support', 'backups'))
);

CREATE TABLE public.notifications (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  telegram_user_id bigint REFERENCES public.telegram_users (id) ON DELETE CASCADE,
  channel_id bigint REFERENCES public.telegram_channels (id) ON DELETE SET NULL,
  channel text NOT NULL DEFAULT 'telegram',
  message text NOT NULL,
  status text NOT NULL DEFAULT 'queued',
  sent_at timestamptz,
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT notifications_status_check CHECK (status IN ('queued', 'sent', 'failed')),
  CONSTRAINT notifications_channel_check CHECK (channel IN ('telegram', 'sms', 'email')),
  CONSTRAINT notifications_target_check CHECK (telegram_user_id IS NOT NULL OR channel_id IS NOT NULL),
  CONSTRAINT notifications_sent_check CHECK (status <> 'sent' OR sent_at IS NOT NULL)
);
CREATE INDEX notifications_status_idx ON public.notifications (status, created_at);

-- Keeps updated_at honest on the tables that have it.
CREATE FUNCTION public.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;
CREATE TRIGGER admin_users_updated_at BEFORE UPDATE ON public.admin_users FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER telegram_users_updated_at BEFORE UPDATE ON public.telegram_users FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER trips_updated_at BEFORE UPDATE ON public.trips FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- A convenience view the dashboard uses: seats sold per trip.
CREATE VIEW public.trip_occupancy AS
  SELECT t.id AS trip_id, t.origin, t.destination, t.departure_at, t.total_seats,
         count(k.id) FILTER (WHERE k.status <> 'cancelled') AS seats_sold
  FROM public.trips t LEFT JOIN public.tickets k ON k.trip_id = t.id
  GROUP BY t.id;
